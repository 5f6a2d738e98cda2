// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sidewinder/ssm/model_config.h"

namespace sw::ssm {

// Unpacked fp32 weights in PyTorch layout (row-major [out, in]), exactly as
// named in the model file. The loader produces this; Model packs it for the
// kernels; ReferenceModel computes from it directly.
struct LayerWeights {
  std::vector<float> norm_w;       // [D]               backbone.layers.i.norm.weight
  std::vector<float> in_proj_w;    // [in_proj_rows, D] mixer.in_proj.weight
  std::vector<float> in_proj_b;    // [in_proj_rows] or empty
  std::vector<float> conv_w;       // [conv_dim, K]     mixer.conv1d.weight ([conv_dim, 1, K])
  std::vector<float> conv_b;       // [conv_dim]        mixer.conv1d.bias
  std::vector<float> x_proj_w;     // m1: [R + 2N, E]   mixer.x_proj.weight
  std::vector<float> dt_proj_w;    // m1: [E, R]        mixer.dt_proj.weight
  std::vector<float> dt_proj_b;    // m1: [E]           mixer.dt_proj.bias
  std::vector<float> dt_bias;      // m2: [H]           mixer.dt_bias
  std::vector<float> a_log;        // m1: [E, N]; m2: [H]   mixer.A_log
  std::vector<float> d;            // m1: [E]; m2: [H] or [E]  mixer.D
  std::vector<float> gate_norm_w;  // m2: [E]           mixer.norm.weight
  std::vector<float> out_proj_w;   // [D, E]            mixer.out_proj.weight
  std::vector<float> out_proj_b;   // [D] or empty
};

struct ModelWeights {
  ModelConfig config;
  std::vector<LayerWeights> layers;
  std::vector<float> norm_f_w;                  // [D]          backbone.norm_f.weight
  std::vector<float> audio_in_w;                // [D, C_in]    audio.in_proj.weight
  std::vector<float> audio_in_b;                // [D]          audio.in_proj.bias
  std::vector<float> audio_out_w;               // [C_out, D]   audio.out_proj.weight
  std::vector<float> audio_out_b;               // [C_out]      audio.out_proj.bias
  std::vector<float> audio_skip_w;              // [C_out, C_in] or empty
  std::map<std::string, std::string> metadata;  // free-form, shown, never interpreted

  // Throws std::invalid_argument if a vector's size disagrees with config.
  void check_sizes() const;
};

// Seeded random weights with the usual Mamba initialisation (for built-in
// benchmark configs and tests): A_log = log(1..N), dt in [1e-3, 1e-1].
ModelWeights make_random_weights(const ModelConfig& config, std::uint64_t seed);

// Built-in benchmark configs: "fx-s", "fx-m", "fx-m2". Throws on unknown names.
ModelConfig builtin_config(const std::string& name);

}  // namespace sw::ssm
