// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <string>

namespace sw::ssm {

enum class Arch { mamba1, mamba2 };

const char* arch_name(Arch arch) noexcept;

// The shapes of a model. Everything here is inferred from tensor shapes by the
// loader (docs/model_format.md), except the few keys stored as metadata.
struct ModelConfig {
  Arch arch = Arch::mamba1;
  int n_layers = 0;
  int d_model = 0;   // D
  int d_inner = 0;   // E (mamba2: d_ssm = H * P)
  int d_state = 0;   // N
  int d_conv = 0;    // K
  int dt_rank = 0;   // R (mamba1 only)
  int n_heads = 0;   // H (mamba2 only)
  int head_dim = 0;  // P (mamba2 only)
  int n_groups = 1;  // G (mamba2 only)
  int in_channels = 1;
  int out_channels = 1;
  bool has_audio_head = true;  // false: plain backbone, input/output are D-dim
  bool has_skip = false;       // audio.skip.weight present
  bool has_in_proj_bias = false;
  bool has_out_proj_bias = false;
  bool d_per_channel = false;   // mamba2: D has shape [E] instead of [H]
  float norm_eps = 1e-5f;       // block norms and norm_f
  float gate_norm_eps = 1e-5f;  // Mamba-2 gated RMSNorm (mamba2.py hard-codes 1e-5)
  double sample_rate = 0.0;     // 0: not an audio model

  // Channels through the depthwise conv: E (mamba1) or E + 2GN (mamba2).
  int conv_dim() const noexcept;
  // Rows of mixer.in_proj.weight: 2E (mamba1) or 2E + 2GN + H (mamba2).
  int in_proj_rows() const noexcept;
  // Throws std::invalid_argument naming the first inconsistent field.
  void validate() const;
};

// Work per sample of audio, counted from the shapes (see docs/performance.md).
struct ModelCost {
  double flops = 0;            // multiply-adds count 2
  double transcendentals = 0;  // exp and log evaluations
  double parameters = 0;
};

ModelCost cost_per_sample(const ModelConfig& config) noexcept;

std::string describe(const ModelConfig& config);

}  // namespace sw::ssm
