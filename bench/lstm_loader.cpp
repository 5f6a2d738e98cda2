// SPDX-License-Identifier: GPL-3.0-or-later
// Reads an LSTM exported from PyTorch (see lstm_baseline.h for the keys and
// shapes) with the engine's safetensors reader. Strict: every expected tensor
// present with its exact shape, nothing unknown, every value finite.
#include <charconv>
#include <set>

#include "sidewinder/bench/lstm_baseline.h"
#include "sidewinder/ssm/safetensors.h"

namespace sw::bench {

namespace {

using Shape = std::vector<std::int64_t>;
constexpr std::int64_t kMaxHidden = 4096;

}  // namespace

LstmWeights load_lstm(const std::string& path) {
  const ssm::SafetensorsFile file = ssm::read_safetensors(path);
  auto fail = [&](const std::string& what) { throw ssm::ModelLoadError(path + ": " + what); };
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      fail("metadata key " + key + " is missing (not a sidewinder-lstm file?)");
    return it->second;
  };
  if (meta("format") != "sidewinder-lstm")
    fail("metadata format is \"" + meta("format") + "\", expected \"sidewinder-lstm\"");
  if (meta("format_version") != "1")
    fail("metadata format_version is \"" + meta("format_version") + "\", this reader knows \"1\"");
  LstmWeights w;
  {
    const std::string& s = meta("sample_rate");
    const auto r = std::from_chars(s.data(), s.data() + s.size(), w.sample_rate);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !(w.sample_rate > 0) || w.sample_rate > 1e7)
      fail("metadata sample_rate \"" + s + "\" is not a positive number");
  }

  const std::set<std::string> known = {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
                                       "head.weight",       "head.bias",         "skip.weight"};
  for (const auto& [name, info] : file.tensors) {
    if (!known.count(name)) {
      fail("unexpected tensor " + name +
           (name.rfind("lstm.", 0) == 0 ? " (only a one-layer, unidirectional LSTM is supported)" : ""));
    }
  }
  auto need = [&](const std::string& name) -> const ssm::TensorInfo& {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      fail("missing tensor " + name);
    return it->second;
  };
  // H from weight_hh [4H, H]; then every shape must match exactly.
  const ssm::TensorInfo& whh = need("lstm.weight_hh_l0");
  if (whh.shape.size() != 2 || whh.shape[1] < 1 || whh.shape[1] > kMaxHidden || whh.shape[0] != 4 * whh.shape[1])
    fail("tensor lstm.weight_hh_l0 has shape " + ssm::shape_str(whh.shape) + ", expected [4H, H] with H in 1.." +
         std::to_string(kMaxHidden));
  const std::int64_t H = whh.shape[1];
  auto read = [&](const std::string& name, const Shape& want) {
    const ssm::TensorInfo& t = need(name);
    if (t.shape != want)
      fail("tensor " + name + " has shape " + ssm::shape_str(t.shape) + ", expected " + ssm::shape_str(want) +
           " (H = " + std::to_string(H) + ")");
    return file.read_f32(t);  // throws on NaN / infinity
  };
  w.hidden = static_cast<int>(H);
  w.w_hh = read("lstm.weight_hh_l0", {4 * H, H});
  w.w_ih = read("lstm.weight_ih_l0", {4 * H, 1});
  w.b_ih = read("lstm.bias_ih_l0", {4 * H});
  w.b_hh = read("lstm.bias_hh_l0", {4 * H});
  w.head_w = read("head.weight", {1, H});
  w.head_b = read("head.bias", {1})[0];
  w.skip = file.tensors.count("skip.weight") ? read("skip.weight", {1, 1})[0] : 0.0f;
  validate(w);
  return w;
}

}  // namespace sw::bench
