// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/ssm/model_config.h"

#include <sstream>
#include <stdexcept>

namespace sw::ssm {

const char* arch_name(Arch arch) noexcept {
  return arch == Arch::mamba1 ? "mamba1" : "mamba2";
}

int ModelConfig::conv_dim() const noexcept {
  return arch == Arch::mamba1 ? d_inner : d_inner + 2 * n_groups * d_state;
}

int ModelConfig::in_proj_rows() const noexcept {
  return arch == Arch::mamba1 ? 2 * d_inner : 2 * d_inner + 2 * n_groups * d_state + n_heads;
}

void ModelConfig::validate() const {
  auto need = [](bool ok, const char* what) {
    if (!ok)
      throw std::invalid_argument(std::string("invalid model config: ") + what);
  };
  need(n_layers >= 1, "n_layers must be >= 1");
  need(d_model >= 1, "d_model must be >= 1");
  need(d_inner >= 1, "d_inner must be >= 1");
  need(d_state >= 1, "d_state must be >= 1");
  need(d_conv >= 1, "d_conv must be >= 1");
  need(in_channels >= 1 && out_channels >= 1, "channel counts must be >= 1");
  need(norm_eps > 0.0f, "norm_eps must be > 0");
  need(gate_norm_eps > 0.0f, "gate_norm_eps must be > 0");
  need(sample_rate >= 0.0, "sample_rate must be >= 0");
  if (arch == Arch::mamba1) {
    need(dt_rank >= 1, "dt_rank must be >= 1");
  } else {
    need(n_heads >= 1 && head_dim >= 1, "heads and head_dim must be >= 1");
    need(static_cast<long long>(n_heads) * head_dim == d_inner, "heads * head_dim must equal d_inner");
    need(n_groups >= 1 && n_heads % n_groups == 0, "ngroups must divide the number of heads");
    need(d_inner % n_groups == 0, "ngroups must divide d_inner");
  }
  if (!has_audio_head) {
    need(in_channels == d_model && out_channels == d_model,
         "a backbone-only model has d_model input and output channels");
  }
}

ModelCost cost_per_sample(const ModelConfig& c) noexcept {
  const double D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv;
  const double Cin = c.in_channels, Cout = c.out_channels;
  ModelCost cost;
  double params = 0;
  if (c.has_audio_head) {
    cost.flops += 2 * Cin * D + 2 * D * Cout + (c.has_skip ? 2 * Cin * Cout : 0);
    params += Cin * D + D + D * Cout + Cout + (c.has_skip ? Cin * Cout : 0);
  }
  cost.flops += 4 * D;  // norm_f
  params += D;
  for (int l = 0; l < c.n_layers; ++l) {
    const double rows = c.in_proj_rows(), conv = c.conv_dim();
    cost.flops += 4 * D + D;                // block norm + residual add
    cost.flops += 2 * D * rows;             // in_proj
    cost.flops += 2 * K * conv + 3 * conv;  // conv + SiLU
    cost.transcendentals += conv;           // SiLU exp
    cost.flops += 2 * E * D;                // out_proj
    params += D + rows * D + (c.has_in_proj_bias ? rows : 0) + conv * K + conv + D * E + (c.has_out_proj_bias ? D : 0);
    if (c.arch == Arch::mamba1) {
      const double R = c.dt_rank;
      cost.flops += 2 * E * (R + 2 * N) + 2 * R * E;  // x_proj, dt_proj
      cost.transcendentals += 2 * E;                  // softplus: exp + log
      cost.transcendentals += E;                      // SiLU(z)
      cost.flops += E * N * 6 + E;                    // scan: dt*A, h = dA*h + dtu*B, y += C*h
      cost.transcendentals += E * N;                  // exp(dt*A)
      cost.flops += 5 * E;                            // + D*u, * SiLU(z)
      params += (R + 2 * N) * E + E * R + E + E * N + E;
    } else {
      const double H = c.n_heads;
      cost.transcendentals += 3 * H;  // softplus (exp+log), exp(dt*A)
      cost.flops += 3 * H;
      cost.flops += E * N * 5 + 3 * E;  // scan, + D*x
      cost.transcendentals += E;        // SiLU(z)
      cost.flops += 8 * E;              // gate, group RMSNorm
      params += 3 * H + E + (c.d_per_channel ? E - H : 0);
    }
  }
  cost.parameters = params;
  return cost;
}

std::string describe(const ModelConfig& c) {
  std::ostringstream s;
  s << arch_name(c.arch) << ", " << c.n_layers << " layers, d_model " << c.d_model << ", d_inner " << c.d_inner
    << ", d_state " << c.d_state << ", d_conv " << c.d_conv;
  if (c.arch == Arch::mamba1) {
    s << ", dt_rank " << c.dt_rank;
  } else {
    s << ", heads " << c.n_heads << " x headdim " << c.head_dim << ", ngroups " << c.n_groups;
  }
  if (c.has_audio_head) {
    s << ", " << c.in_channels << " in / " << c.out_channels << " out" << (c.has_skip ? " + skip" : "");
  } else {
    s << ", backbone only (" << c.d_model << "-dim sequence model)";
  }
  return s.str();
}

}  // namespace sw::ssm
