// SPDX-License-Identifier: GPL-3.0-or-later
// Interprets a safetensors file as a Sidewinder voice (docs/speech.md): the
// three sequence models (engine audio models under enc_fwd. / enc_bwd. /
// decoder.), embedding, prior and duration heads, the synthesiser's
// constants, and the metadata that describes them. Every tensor is checked
// for its shape; unknown tensors and unknown format versions are refused.
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "sidewinder/speech/voice_loader.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::speech {

namespace {

using ssm::ModelLoadError;
using Shape = std::vector<std::int64_t>;

class VoiceLoader {
 public:
  explicit VoiceLoader(const std::string& path) : path_(path), file_(ssm::read_safetensors(path)) {}

  std::shared_ptr<const VoiceModel> load() {
    auto v = std::make_shared<VoiceModel>();
    v->path = path_;
    v->metadata = file_.metadata;
    if (meta_or("format", "") != "sidewinder-voice")
      fail("metadata format is '" + meta_or("format", "(missing)") + "', expected 'sidewinder-voice'");
    const long version = parse_int("format_version", 0, 1 << 20);
    if (version != kVoiceFormatVersion) {
      fail("format_version " + std::to_string(version) +
           " is not supported by this engine (supported: " + std::to_string(kVoiceFormatVersion) + ")");
    }
    if (meta_or("synthesiser", "(missing)") != "hns-mel-1")
      fail("metadata synthesiser = '" + meta_or("synthesiser", "(missing)") +
           "' is not supported (supported: hns-mel-1)");
    v->name = meta_or("name", "voice");
    v->language = meta_or("language", "");
    v->license = meta_or("license", "");
    v->credits = meta_or("credits", "");
    v->espeak_voice = meta_or("espeak_voice", "en-us");

    parse_phoneme_map(*v);
    const Shape& emb = ranked("embedding.weight", 2);
    if (emb[0] != v->n_symbols)
      fail("tensor embedding.weight has " + std::to_string(emb[0]) + " rows, the phoneme map " +
           std::to_string(v->n_symbols) + " symbols");
    v->emb_dim = int(emb[1]);
    v->embedding = get("embedding.weight");

    v->enc_fwd = sub_model("enc_fwd", "0");
    v->enc_bwd = sub_model("enc_bwd", "0");
    v->decoder = sub_model("decoder", "100");
    const auto& ef = v->enc_fwd->config();
    const auto& eb = v->enc_bwd->config();
    if (ef.in_channels != v->emb_dim || eb.in_channels != v->emb_dim || ef.out_channels != eb.out_channels)
      fail("the encoders' channels do not match the embedding (" + std::to_string(v->emb_dim) + ") or each other");
    v->hidden = ef.out_channels;
    const Shape& pw = ranked("prior.weight", 2);
    v->n_mels = int(pw[0]);
    expect("prior.weight", {v->n_mels, v->hidden});
    expect("prior.bias", {v->n_mels});
    expect("duration.weight", {1, v->hidden});
    expect("duration.bias", {1});
    v->prior_w = get("prior.weight");
    v->prior_b = get("prior.bias");
    v->dur_w = get("duration.weight");
    v->dur_b = get("duration.bias")[0];
    const auto& dc = v->decoder->config();
    if (dc.in_channels != v->hidden + v->n_mels + 2 || dc.out_channels != v->n_mels + 2) {
      fail("model decoder.*: " + std::to_string(dc.in_channels) + " in / " + std::to_string(dc.out_channels) +
           " out channels, expected " + std::to_string(v->hidden + v->n_mels + 2) + " / " +
           std::to_string(v->n_mels + 2));
    }
    v->synth = std::make_shared<const SynthTables>(synth_spec(v->n_mels));
    check_no_unknown_tensors();
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw ModelLoadError(path_ + ": " + what); }

  std::string meta_or(const std::string& k, const std::string& dflt) const {
    auto it = file_.metadata.find(k);
    return it == file_.metadata.end() ? dflt : it->second;
  }
  const std::string& meta(const std::string& k) const {
    auto it = file_.metadata.find(k);
    if (it == file_.metadata.end())
      fail("metadata key " + k + " is missing");
    return it->second;
  }
  long parse_int(const std::string& k, long lo, long hi) const {
    const std::string& s = meta(k);
    long v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v < lo || v > hi)
      fail("metadata " + k + " = '" + s + "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
           "]");
    return v;
  }
  double parse_double(const std::string& k, double lo, double hi) const {
    const std::string& s = meta(k);
    double v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !(v >= lo) || !(v <= hi))
      fail("metadata " + k + " = '" + s + "' is not a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
           "]");
    return v;
  }

  const ssm::TensorInfo& need(const std::string& name) {
    auto it = file_.tensors.find(name);
    if (it == file_.tensors.end())
      fail("missing tensor " + name);
    known_.insert(name);
    return it->second;
  }
  const Shape& ranked(const std::string& name, std::size_t rank) {
    const auto& t = need(name);
    if (t.shape.size() != rank)
      fail("tensor " + name + " has shape " + ssm::shape_str(t.shape) + ", expected " + std::to_string(rank) +
           " dimensions");
    for (auto d : t.shape)
      if (d < 1 || d > (1 << 20))
        fail("tensor " + name + " has shape " + ssm::shape_str(t.shape) + ": bad dimension");
    return t.shape;
  }
  void expect(const std::string& name, const Shape& shape) {
    const auto& t = need(name);
    if (t.shape != shape)
      fail("tensor " + name + " has shape " + ssm::shape_str(t.shape) + ", expected " + ssm::shape_str(shape));
  }
  std::vector<float> get(const std::string& name) { return file_.read_f32(need(name)); }

  void parse_phoneme_map(VoiceModel& v) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(meta("phoneme_map"));
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("metadata phoneme_map is not JSON: ") + e.what());
    }
    if (!j.is_object() || j.empty())
      fail("metadata phoneme_map is not a non-empty JSON object {symbol: id}");
    if (j.size() > 65536)
      fail("metadata phoneme_map: too many symbols");
    std::set<int> ids;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_number_integer())
        fail("metadata phoneme_map: the id of '" + it.key() + "' is not an integer");
      const long id = it.value().get<long>();
      if (id < 0 || id >= long(j.size()) || !ids.insert(int(id)).second)
        fail("metadata phoneme_map: ids must be 0.." + std::to_string(j.size() - 1) + ", each once ('" + it.key() +
             "' has " + std::to_string(id) + ")");
      v.phoneme_ids.emplace(it.key(), int(id));
    }
    v.n_symbols = int(j.size());
    for (const char* s : {"<bos>", "<eos>", " "})
      if (!v.phoneme_ids.count(s))
        fail(std::string("metadata phoneme_map has no '") + s + "'");
    v.bos = v.phoneme_ids.at("<bos>");
    v.eos = v.phoneme_ids.at("<eos>");
    v.space = v.phoneme_ids.at(" ");
  }

  // One sequence model: the tensors under `prefix.`, with the metadata of
  // the JSON object stored under the key `prefix` (arch, norm_eps, ...).
  std::shared_ptr<const ssm::Model> sub_model(const std::string& prefix, const char* rate) {
    std::map<std::string, std::string> m;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(meta(prefix));
    } catch (const nlohmann::json::exception& e) {
      fail("metadata " + prefix + " is not JSON: " + e.what());
    }
    if (!j.is_object())
      fail("metadata " + prefix + " is not a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_string())
        fail("metadata " + prefix + ": '" + it.key() + "' is not a string");
      m[it.key()] = it.value().get<std::string>();
    }
    m["format"] = "sidewinder";
    m["format_version"] = "1";
    m["sample_rate"] = rate;
    ssm::ModelWeights w = ssm::load_model_weights_from_container(file_, prefix + ".", m);
    for (const auto& kv : file_.tensors)
      if (kv.first.compare(0, prefix.size() + 1, prefix + ".") == 0)
        known_.insert(kv.first);
    try {
      return ssm::Model::create(w);
    } catch (const std::invalid_argument& e) {
      fail("model " + prefix + ".*: " + e.what());
    }
  }

  SynthSpec synth_spec(int n_mels) {
    SynthSpec s;
    s.sample_rate = int(parse_int("sample_rate", 4000, 192000));
    s.hop = int(parse_int("hop", 1, 4096));
    s.n_mels = n_mels;
    if (parse_int("n_mels", 1, 1024) != n_mels)
      fail("metadata n_mels disagrees with tensor prior.weight");
    s.n_fft = int(parse_int("n_fft", 16, 65536));
    s.max_harmonics = int(parse_int("harmonics", 1, 1024));
    s.noise_bands = int(parse_int("noise_bands", 1, 256));
    s.noise_taps = int(parse_int("noise_taps", 1, 4096));
    s.voiced_max_hz = parse_double("voiced_max_hz", 1.0, 1e6);
    s.sine_energy = parse_double("sine_energy", 1e-9, 1e18);
    s.noise_energy = parse_double("noise_energy", 1e-9, 1e18);
    s.f0_min = parse_double("f0_min", 1.0, 1e5);
    s.f0_max = parse_double("f0_max", 1.0, 1e5);
    expect("synth.noise_filters", {s.noise_bands, s.noise_taps});
    expect("synth.mel_centres_hz", {n_mels});
    expect("synth.mel_areas", {n_mels});
    expect("synth.noise_edges_hz", {s.noise_bands + 1});
    s.noise_filters = get("synth.noise_filters");
    auto widen = [](const std::vector<float>& f) { return std::vector<double>(f.begin(), f.end()); };
    s.mel_centres_hz = widen(get("synth.mel_centres_hz"));
    s.mel_areas = widen(get("synth.mel_areas"));
    s.noise_edges_hz = widen(get("synth.noise_edges_hz"));
    try {
      s.validate();
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    return s;
  }

  void check_no_unknown_tensors() const {
    for (const auto& kv : file_.tensors)
      if (!known_.count(kv.first))
        fail("unexpected tensor " + kv.first + " (not part of a sidewinder-voice file)");
  }

  std::string path_;
  ssm::SafetensorsFile file_;
  std::set<std::string> known_;
};

}  // namespace

std::shared_ptr<const VoiceModel> load_voice(const std::string& path) {
  return VoiceLoader(path).load();
}

bool is_voice_file(const ssm::SafetensorsFile& file) {
  auto it = file.metadata.find("format");
  return it != file.metadata.end() && it->second == "sidewinder-voice";
}

std::size_t VoiceModel::parameter_count() const noexcept {
  auto params = [](const std::shared_ptr<const ssm::Model>& m) { return std::size_t(m->cost().parameters); };
  return embedding.size() + params(enc_fwd) + params(enc_bwd) + params(decoder) + prior_w.size() + prior_b.size() +
         dur_w.size() + 1;
}

}  // namespace sw::speech
