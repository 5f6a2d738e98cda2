// SPDX-License-Identifier: GPL-3.0-or-later
// Interprets a safetensors file as a Sidewinder model (docs/model_format.md):
// metadata, architecture, shapes inferred from tensors, every tensor present
// and known, every value finite. Builds ModelWeights only after all checks.
#include "sidewinder/ssm/model_loader.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

namespace sw::ssm {

namespace {

using Shape = std::vector<std::int64_t>;

constexpr std::int64_t kMaxDim = 1 << 16;
constexpr std::uint64_t kMaxStateFloats = 1ull << 24;  // 64 MiB of fp32 state per stream
constexpr int kMaxLayers = 1024;

class Loader {
 public:
  explicit Loader(const std::string& path) : path_(path), owned_(read_safetensors(path)), file_(owned_) { index(); }
  Loader(std::vector<unsigned char> bytes, const std::string& name)
      : path_(name), owned_(parse_safetensors(std::move(bytes), name)), file_(owned_) {
    index();
  }
  // One model inside a container: the tensors named prefix + <model tensor name>, read with
  // `metadata` in place of the file's.
  Loader(const SafetensorsFile& file, const std::string& prefix, std::map<std::string, std::string> metadata,
         const std::string& name)
      : path_(name), file_(file), prefix_(prefix), meta_(std::move(metadata)), own_meta_(true) {
    index();
  }

  ModelWeights load() {
    parse_metadata();
    infer_shapes();
    check_tensor_set();
    return collect();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ModelLoadError(path_ + ": " + (prefix_.empty() ? "" : "model " + prefix_ + "*: ") + what);
  }

  // tensors_: the model's tensors by their name inside the model (prefix removed).
  void index() {
    for (const auto& kv : file_.tensors) {
      if (kv.first.compare(0, prefix_.size(), prefix_) == 0)
        tensors_.emplace(kv.first.substr(prefix_.size()), &kv.second);
    }
  }
  const TensorInfo* find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : it->second;
  }
  const std::map<std::string, std::string>& metadata() const { return own_meta_ ? meta_ : file_.metadata; }
  const TensorInfo& need(const std::string& name) const {
    const TensorInfo* t = find(name);
    if (!t)
      fail("missing tensor " + name);
    return *t;
  }
  // The tensor's shape must have `rank` dims; returns it.
  const Shape& ranked(const std::string& name, std::size_t rank) const {
    const TensorInfo& t = need(name);
    if (t.shape.size() != rank) {
      fail("tensor " + name + " has shape " + shape_str(t.shape) + ", expected " + std::to_string(rank) +
           " dimensions");
    }
    for (std::int64_t d : t.shape) {
      if (d < 1)
        fail("tensor " + name + " has shape " + shape_str(t.shape) + " with an empty dimension");
      if (d > kMaxDim)
        fail("tensor " + name + " has shape " + shape_str(t.shape) + ": dimension too large");
    }
    return t.shape;
  }
  bool has_meta(const std::string& k) const { return metadata().count(k) != 0; }
  const std::string& meta(const std::string& k) const { return metadata().at(k); }

  // Whole-string, locale-independent parses (std::from_chars): " 1", "+1",
  // "1x" and "1,5" are all refused.
  static bool to_long(const std::string& s, long& v) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
  static bool to_double(const std::string& s, double& v) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
  }

  long parse_int(const std::string& key, long lo, long hi) const {
    if (!has_meta(key))
      fail("metadata key " + key + " is missing");
    const std::string& s = meta(key);
    long v = 0;
    if (!to_long(s, v) || v < lo || v > hi) {
      fail("metadata " + key + " = '" + s + "' is not an integer in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]");
    }
    return v;
  }

  float parse_eps(const std::string& key) const {
    const std::string& s = meta(key);
    double e = 0;
    if (!to_double(s, e) || !(e > 0.0) || !(e < 1.0))
      fail("metadata " + key + " = '" + s + "' is not a number in (0, 1)");
    return static_cast<float>(e);
  }

  void parse_metadata() {
    bool any_audio = false;
    for (const auto& kv : tensors_)
      any_audio = any_audio || kv.first.rfind("audio.", 0) == 0;
    sidewinder_ = has_meta("format") && meta("format") == "sidewinder";
    if (!sidewinder_ && any_audio) {
      fail("metadata format is '" + (has_meta("format") ? meta("format") : std::string("(missing)")) +
           "', expected 'sidewinder' for a file with audio.* tensors");
    }
    if (sidewinder_) {
      if (!has_meta("format_version"))
        fail("metadata key format_version is missing (supported: 1)");
      const std::string& fv = meta("format_version");
      long v = 0;
      if (!to_long(fv, v))
        fail("metadata format_version = '" + fv + "' is not an integer (supported: 1)");
      if (v != kFormatVersion) {
        fail("format_version " + fv + " is not supported by this engine (supported: " + std::to_string(kFormatVersion) +
             ")");
      }
      if (!has_meta("arch"))
        fail("metadata key arch is missing (mamba1 or mamba2)");
      const std::string& a = meta("arch");
      if (a == "mamba1") {
        c_.arch = Arch::mamba1;
      } else if (a == "mamba2") {
        c_.arch = Arch::mamba2;
      } else {
        fail("metadata arch = '" + a + "' is not supported (supported: mamba1, mamba2)");
      }
      c_.sample_rate = static_cast<double>(parse_int("sample_rate", 0, 1536000));
    } else {
      // A plain mamba_ssm / Hugging Face backbone: the architecture is in the names.
      bool x_proj = false, dt_bias = false;
      for (const auto& kv : tensors_) {
        x_proj = x_proj || kv.first.find(".mixer.x_proj.") != std::string::npos;
        dt_bias = dt_bias || kv.first.find(".mixer.dt_bias") != std::string::npos;
      }
      if (x_proj == dt_bias) {
        fail(
            "not a Sidewinder file (metadata format is not 'sidewinder') and the architecture cannot be told "
            "from the tensor names (x_proj: Mamba-1, dt_bias: Mamba-2)");
      }
      c_.arch = x_proj ? Arch::mamba1 : Arch::mamba2;
      c_.sample_rate = has_meta("sample_rate") ? static_cast<double>(parse_int("sample_rate", 0, 1536000)) : 0.0;
    }
    if (has_meta("norm_eps"))
      c_.norm_eps = parse_eps("norm_eps");
    if (has_meta("gate_norm_eps"))
      c_.gate_norm_eps = parse_eps("gate_norm_eps");
  }

  void infer_shapes() {
    // Layers: backbone.layers.{i}.*, numbered 0..L-1.
    static const std::string prefix = "backbone.layers.";
    long max_layer = -1;
    for (const auto& kv : tensors_) {
      const std::string& name = kv.first;
      if (name.rfind(prefix, 0) != 0)
        continue;
      std::size_t i = prefix.size(), j = i;
      while (j < name.size() && name[j] >= '0' && name[j] <= '9')
        ++j;
      if (j == i || j >= name.size() || name[j] != '.')
        continue;  // not a layer tensor: reported as unexpected
      if (j - i > 6)
        fail("tensor " + name + ": layer index too large");
      max_layer = std::max(max_layer, std::stol(name.substr(i, j - i)));
    }
    if (max_layer < 0)
      fail("missing tensor backbone.layers.0.norm.weight (no layers)");
    if (max_layer + 1 > kMaxLayers)
      fail("too large: " + std::to_string(max_layer + 1) + " layers (limit 1024)");
    c_.n_layers = static_cast<int>(max_layer + 1);
    const std::string p = "backbone.layers.0.mixer.";
    const Shape& nf = ranked("backbone.norm_f.weight", 1);
    c_.d_model = static_cast<int>(nf[0]);
    const Shape& conv = ranked(p + "conv1d.weight", 3);
    c_.d_conv = static_cast<int>(conv[2]);
    if (c_.arch == Arch::mamba1) {
      const Shape& ip = ranked(p + "in_proj.weight", 2);
      if (ip[0] % 2)
        fail("tensor " + p + "in_proj.weight has shape " + shape_str(ip) + ": rows must be 2*d_inner");
      c_.d_inner = static_cast<int>(ip[0] / 2);
      c_.d_state = static_cast<int>(ranked(p + "A_log", 2)[1]);
      c_.dt_rank = static_cast<int>(ranked(p + "dt_proj.weight", 2)[1]);
    } else {
      c_.n_heads = static_cast<int>(ranked(p + "A_log", 1)[0]);
      c_.d_inner = static_cast<int>(ranked(p + "out_proj.weight", 2)[1]);
      if (sidewinder_ || has_meta("headdim")) {
        c_.head_dim = static_cast<int>(parse_int("headdim", 1, kMaxDim));
      } else {
        c_.head_dim = c_.d_inner / c_.n_heads;
      }
      // ngroups cannot be told from the shapes (B and C of G groups of N look
      // like one group of G·N), so a Mamba-2 file must say it.
      if (!has_meta("ngroups")) {
        fail(
            "metadata key ngroups is missing: a Mamba-2 file must state it (n_groups in a Hugging Face "
            "config.json; add it to the file's __metadata__)");
      }
      c_.n_groups = static_cast<int>(parse_int("ngroups", 1, kMaxDim));
      if (static_cast<long long>(c_.head_dim) * c_.n_heads != c_.d_inner) {
        fail("headdim " + std::to_string(c_.head_dim) + " times " + std::to_string(c_.n_heads) +
             " heads (A_log) does not equal d_inner = " + std::to_string(c_.d_inner) + " (out_proj.weight)");
      }
      if (c_.n_heads % c_.n_groups != 0) {
        fail("metadata ngroups = " + std::to_string(c_.n_groups) + " does not divide the " +
             std::to_string(c_.n_heads) + " heads");
      }
      const std::int64_t bc = conv[0] - c_.d_inner;
      if (bc <= 0 || bc % (2 * c_.n_groups) != 0) {
        fail("tensor " + p + "conv1d.weight has shape " + shape_str(conv) +
             ": channels must be d_inner + 2*ngroups*d_state");
      }
      c_.d_state = static_cast<int>(bc / (2 * c_.n_groups));
      const TensorInfo* d = find(p + "D");
      c_.d_per_channel = d && d->shape.size() == 1 && d->shape[0] == c_.d_inner && c_.d_inner != c_.n_heads;
    }
    c_.has_in_proj_bias = find(p + "in_proj.bias") != nullptr;
    c_.has_out_proj_bias = find(p + "out_proj.bias") != nullptr;
    c_.has_audio_head = find("audio.in_proj.weight") || find("audio.out_proj.weight");
    if (c_.has_audio_head) {
      c_.in_channels = static_cast<int>(ranked("audio.in_proj.weight", 2)[1]);
      c_.out_channels = static_cast<int>(ranked("audio.out_proj.weight", 2)[0]);
      c_.has_skip = find("audio.skip.weight") != nullptr;
    } else {
      c_.in_channels = c_.out_channels = c_.d_model;
    }
    try {
      c_.validate();
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
  }

  // name → expected shape; every tensor in the file must be one of these.
  void expect(const std::string& name, Shape shape) { expected_.emplace_back(name, std::move(shape)); }

  void check_tensor_set() {
    const std::int64_t D = c_.d_model, E = c_.d_inner, N = c_.d_state, K = c_.d_conv, R = c_.dt_rank, H = c_.n_heads,
                       rows = c_.in_proj_rows(), conv = c_.conv_dim();
    for (int l = 0; l < c_.n_layers; ++l) {
      const std::string p = "backbone.layers." + std::to_string(l) + ".";
      expect(p + "norm.weight", {D});
      expect(p + "mixer.in_proj.weight", {rows, D});
      if (c_.has_in_proj_bias)
        expect(p + "mixer.in_proj.bias", {rows});
      expect(p + "mixer.conv1d.weight", {conv, 1, K});
      expect(p + "mixer.conv1d.bias", {conv});
      expect(p + "mixer.out_proj.weight", {D, E});
      if (c_.has_out_proj_bias)
        expect(p + "mixer.out_proj.bias", {D});
      if (c_.arch == Arch::mamba1) {
        expect(p + "mixer.x_proj.weight", {R + 2 * N, E});
        expect(p + "mixer.dt_proj.weight", {E, R});
        expect(p + "mixer.dt_proj.bias", {E});
        expect(p + "mixer.A_log", {E, N});
        expect(p + "mixer.D", {E});
      } else {
        expect(p + "mixer.dt_bias", {H});
        expect(p + "mixer.A_log", {H});
        expect(p + "mixer.D", {c_.d_per_channel ? E : H});
        expect(p + "mixer.norm.weight", {E});
      }
    }
    expect("backbone.norm_f.weight", {D});
    if (c_.has_audio_head) {
      expect("audio.in_proj.weight", {D, c_.in_channels});
      expect("audio.in_proj.bias", {D});
      expect("audio.out_proj.weight", {c_.out_channels, D});
      expect("audio.out_proj.bias", {c_.out_channels});
      if (c_.has_skip)
        expect("audio.skip.weight", {c_.out_channels, c_.in_channels});
    }
    std::set<std::string> known;
    std::uint64_t total = 0;
    for (const auto& [name, shape] : expected_) {
      const TensorInfo& t = need(name);
      if (t.shape != shape) {
        fail("tensor " + name + " has shape " + shape_str(t.shape) + ", expected " + shape_str(shape) + " (" +
             describe(c_) + ")");
      }
      known.insert(name);
      total += t.elements();
    }
    if (total > (1ull << 28))
      fail("too large: " + std::to_string(total) + " parameters (limit 2^28)");
    const std::uint64_t state =
        std::uint64_t(c_.n_layers) * (std::uint64_t(K - 1) * std::uint64_t(conv) + std::uint64_t(E) * std::uint64_t(N));
    if (state > kMaxStateFloats) {
      fail("too large: the recurrent state would hold " + std::to_string(state) + " floats per stream (limit " +
           std::to_string(kMaxStateFloats) + ")");
    }
    static const std::set<std::string> ignorable = {"backbone.embedding.weight", "backbone.embeddings.weight",
                                                    "lm_head.weight"};
    for (const auto& kv : tensors_) {
      if (known.count(kv.first))
        continue;
      if (!c_.has_audio_head && ignorable.count(kv.first))
        continue;
      fail("unexpected tensor " + prefix_ + kv.first + " (not part of a " + std::string(arch_name(c_.arch)) +
           " model)");
    }
  }

  std::vector<float> get(const std::string& name) const { return file_.read_f32(need(name)); }

  ModelWeights collect() {
    ModelWeights w;
    w.config = c_;
    for (int l = 0; l < c_.n_layers; ++l) {
      const std::string p = "backbone.layers." + std::to_string(l) + ".";
      const std::string m = p + "mixer.";
      LayerWeights L;
      L.norm_w = get(p + "norm.weight");
      L.in_proj_w = get(m + "in_proj.weight");
      if (c_.has_in_proj_bias)
        L.in_proj_b = get(m + "in_proj.bias");
      L.conv_w = get(m + "conv1d.weight");
      L.conv_b = get(m + "conv1d.bias");
      L.out_proj_w = get(m + "out_proj.weight");
      if (c_.has_out_proj_bias)
        L.out_proj_b = get(m + "out_proj.bias");
      L.a_log = get(m + "A_log");
      L.d = get(m + "D");
      if (c_.arch == Arch::mamba1) {
        L.x_proj_w = get(m + "x_proj.weight");
        L.dt_proj_w = get(m + "dt_proj.weight");
        L.dt_proj_b = get(m + "dt_proj.bias");
      } else {
        L.dt_bias = get(m + "dt_bias");
        L.gate_norm_w = get(m + "norm.weight");
      }
      w.layers.push_back(std::move(L));
    }
    w.norm_f_w = get("backbone.norm_f.weight");
    if (c_.has_audio_head) {
      w.audio_in_w = get("audio.in_proj.weight");
      w.audio_in_b = get("audio.in_proj.bias");
      w.audio_out_w = get("audio.out_proj.weight");
      w.audio_out_b = get("audio.out_proj.bias");
      if (c_.has_skip)
        w.audio_skip_w = get("audio.skip.weight");
    }
    w.metadata = metadata();
    try {
      w.check_sizes();
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    return w;
  }

  std::string path_;
  SafetensorsFile owned_;
  const SafetensorsFile& file_;
  std::string prefix_;
  std::map<std::string, std::string> meta_;
  bool own_meta_ = false;
  std::map<std::string, const TensorInfo*> tensors_;
  bool sidewinder_ = false;
  ModelConfig c_;
  std::vector<std::pair<std::string, Shape>> expected_;
};

}  // namespace

ModelWeights load_model_weights(const std::string& path) {
  return Loader(path).load();
}

ModelWeights load_model_weights_from_memory(std::vector<unsigned char> bytes, const std::string& name) {
  return Loader(std::move(bytes), name).load();
}

ModelWeights load_model_weights_from_container(const SafetensorsFile& file, const std::string& prefix,
                                               std::map<std::string, std::string> metadata) {
  return Loader(file, prefix, std::move(metadata), file.path).load();
}

namespace {
std::shared_ptr<const Model> create_or_fail(const ModelWeights& w, const std::string& name) {
  try {
    return Model::create(w);
  } catch (const std::invalid_argument& e) {
    throw ModelLoadError(name + ": " + e.what());
  }
}
}  // namespace

std::shared_ptr<const Model> load_model(const std::string& path) {
  return create_or_fail(load_model_weights(path), path);
}

std::shared_ptr<const Model> load_model_from_memory(std::vector<unsigned char> bytes, const std::string& name) {
  return create_or_fail(load_model_weights_from_memory(std::move(bytes), name), name);
}

void save_model_weights(const ModelWeights& w, const std::string& path) {
  w.check_sizes();
  const ModelConfig& c = w.config;
  const std::int64_t D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank, H = c.n_heads,
                     rows = c.in_proj_rows(), conv = c.conv_dim();
  std::map<std::string, TensorToWrite> t;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[static_cast<std::size_t>(l)];
    const std::string p = "backbone.layers." + std::to_string(l) + ".";
    const std::string m = p + "mixer.";
    t[p + "norm.weight"] = {{D}, L.norm_w};
    t[m + "in_proj.weight"] = {{rows, D}, L.in_proj_w};
    if (c.has_in_proj_bias)
      t[m + "in_proj.bias"] = {{rows}, L.in_proj_b};
    t[m + "conv1d.weight"] = {{conv, 1, K}, L.conv_w};
    t[m + "conv1d.bias"] = {{conv}, L.conv_b};
    t[m + "out_proj.weight"] = {{D, E}, L.out_proj_w};
    if (c.has_out_proj_bias)
      t[m + "out_proj.bias"] = {{D}, L.out_proj_b};
    if (c.arch == Arch::mamba1) {
      t[m + "x_proj.weight"] = {{R + 2 * N, E}, L.x_proj_w};
      t[m + "dt_proj.weight"] = {{E, R}, L.dt_proj_w};
      t[m + "dt_proj.bias"] = {{E}, L.dt_proj_b};
      t[m + "A_log"] = {{E, N}, L.a_log};
      t[m + "D"] = {{E}, L.d};
    } else {
      t[m + "dt_bias"] = {{H}, L.dt_bias};
      t[m + "A_log"] = {{H}, L.a_log};
      t[m + "D"] = {{c.d_per_channel ? E : H}, L.d};
      t[m + "norm.weight"] = {{E}, L.gate_norm_w};
    }
  }
  t["backbone.norm_f.weight"] = {{D}, w.norm_f_w};
  if (c.has_audio_head) {
    t["audio.in_proj.weight"] = {{D, c.in_channels}, w.audio_in_w};
    t["audio.in_proj.bias"] = {{D}, w.audio_in_b};
    t["audio.out_proj.weight"] = {{c.out_channels, D}, w.audio_out_w};
    t["audio.out_proj.bias"] = {{c.out_channels}, w.audio_out_b};
    if (c.has_skip)
      t["audio.skip.weight"] = {{c.out_channels, c.in_channels}, w.audio_skip_w};
  }
  std::map<std::string, std::string> meta = w.metadata;
  meta["format"] = "sidewinder";
  meta["format_version"] = std::to_string(kFormatVersion);
  meta["arch"] = arch_name(c.arch);
  meta["sample_rate"] = std::to_string(static_cast<long>(c.sample_rate));
  {
    std::ostringstream e;
    e.precision(9);
    e << c.norm_eps;
    meta["norm_eps"] = e.str();
  }
  if (c.arch == Arch::mamba2) {
    std::ostringstream g;
    g.precision(9);
    g << c.gate_norm_eps;
    meta["gate_norm_eps"] = g.str();
    meta["headdim"] = std::to_string(c.head_dim);
    meta["ngroups"] = std::to_string(c.n_groups);
  }
  write_safetensors(path, t, meta);
}

}  // namespace sw::ssm
