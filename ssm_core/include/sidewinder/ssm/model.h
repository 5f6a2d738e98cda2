// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidewinder/ssm/aligned_buffer.h"
#include "sidewinder/ssm/model_config.h"
#include "sidewinder/ssm/model_weights.h"

namespace sw::ssm {

// A linear layer packed for the kernels: W [n, k] (PyTorch layout) stored
// transposed and zero-padded as wt [k, n_pad]; bias [n_pad] (zeros if none).
struct PackedLinear {
  std::size_t k = 0, n = 0, n_pad = 0;
  const float* wt = nullptr;
  const float* bias = nullptr;
};

struct PackedLayer {
  const float* norm_w = nullptr;  // [D]
  // Mamba-1: in_x/in_z are the (x, z) halves of in_proj; x_dt/x_b/x_c the
  // (dt, B, C) rows of x_proj; dt_proj carries dt_proj.bias.
  // Mamba-2: in_z/in_xbc/in_dt are the (z, xBC, dt) rows of in_proj; in_dt's
  // bias is dt_bias (+ the in_proj bias rows if any).
  PackedLinear in_x, in_z, in_xbc, in_dt, x_dt, x_b, x_c, dt_proj, out;
  const float* conv_w = nullptr;       // [K, conv_pad]
  const float* conv_b = nullptr;       // [conv_pad]
  const float* a_t = nullptr;          // m1: [N, e_pad] = -exp(A_log)ᵀ ; m2: [h_pad] = -exp(A_log)
  const float* d = nullptr;            // m1: [e_pad]; m2: [H] or [E]
  const float* gate_norm_w = nullptr;  // m2: [E]
};

// An immutable, packed model: one arena holds every weight, the structs
// above are views into it. Create once (allocates, may throw), then share
// between any number of Streams (e.g. the two channels of a stereo effect)
// through shared_ptr<const Model>. Thread-safe to read from many threads.
class Model {
 public:
  // Validates sizes (std::invalid_argument) and packs. Not real-time.
  static std::shared_ptr<const Model> create(const ModelWeights& weights);

  const ModelConfig& config() const noexcept { return config_; }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  ModelCost cost() const noexcept { return cost_per_sample(config_); }
  std::size_t arena_bytes() const noexcept { return arena_.size() * sizeof(float); }

  // Views used by Stream.
  const PackedLayer& layer(std::size_t i) const noexcept { return layers_[i]; }
  const float* norm_f_w() const noexcept { return norm_f_w_; }
  const PackedLinear& audio_in() const noexcept { return audio_in_; }
  const PackedLinear& audio_out() const noexcept { return audio_out_; }
  const PackedLinear& audio_skip() const noexcept { return audio_skip_; }

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

 private:
  Model() = default;
  ModelConfig config_;
  std::map<std::string, std::string> metadata_;
  std::vector<PackedLayer> layers_;
  const float* norm_f_w_ = nullptr;
  PackedLinear audio_in_, audio_out_, audio_skip_;
  AlignedBuffer arena_;
};

}  // namespace sw::ssm
