// SPDX-License-Identifier: GPL-3.0-or-later
// The model shapes every engine is tested on: the three built-in configs and
// odd ones (nothing a multiple of 8, several channels, groups, D per channel,
// d_conv 1, d_state 1). Shared by the CPU tests and the GPU backend's tests.
#pragma once

#include <vector>

#include "sidewinder/ssm/model_weights.h"

namespace sw::test {

inline std::vector<sw::ssm::ModelConfig> shapes() {
  std::vector<sw::ssm::ModelConfig> v;
  for (const char* n : {"fx-s", "fx-m", "fx-m2"})
    v.push_back(sw::ssm::builtin_config(n));
  sw::ssm::ModelConfig a;  // odd Mamba-1: nothing a multiple of 8
  a.arch = sw::ssm::Arch::mamba1;
  a.n_layers = 2, a.d_model = 13, a.d_inner = 27, a.d_state = 5, a.d_conv = 3, a.dt_rank = 4;
  a.in_channels = 2, a.out_channels = 3, a.has_skip = true, a.has_in_proj_bias = true, a.has_out_proj_bias = true;
  a.sample_rate = 48000;
  v.push_back(a);
  sw::ssm::ModelConfig b;  // odd Mamba-2: headdim 5, 3 groups, D per channel
  b.arch = sw::ssm::Arch::mamba2;
  b.n_layers = 2, b.d_model = 10, b.d_inner = 30, b.head_dim = 5, b.n_heads = 6, b.n_groups = 3;
  b.d_state = 3, b.d_conv = 2, b.d_per_channel = true, b.sample_rate = 44100;
  b.has_in_proj_bias = true, b.has_out_proj_bias = true;  // in_proj bias rows of dt add to dt_bias
  v.push_back(b);
  sw::ssm::ModelConfig c;  // d_conv 1 (no history), d_state 1
  c.arch = sw::ssm::Arch::mamba1;
  c.n_layers = 1, c.d_model = 8, c.d_inner = 16, c.d_state = 1, c.d_conv = 1, c.dt_rank = 1;
  c.sample_rate = 48000;
  v.push_back(c);
  return v;
}

}  // namespace sw::test
