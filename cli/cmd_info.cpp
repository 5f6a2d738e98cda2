// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder info FILE`: what a model is and what it costs.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

int run_info(const InfoOptions& o) {
  const ssm::ModelWeights w = ssm::load_model_weights(o.model);
  const auto model = ssm::Model::create(w);
  const ssm::ModelConfig& c = w.config;
  const ssm::ModelCost cost = model->cost();
  const double rate = c.sample_rate > 0 ? c.sample_rate : 48000.0;
  const double gflop_per_s = cost.flops * rate * 1e-9;
  const double gtrans_per_s = cost.transcendentals * rate * 1e-9;
  if (o.json) {
    nlohmann::json j;
    j["file"] = o.model;
    j["arch"] = ssm::arch_name(c.arch);
    j["layers"] = c.n_layers;
    j["d_model"] = c.d_model;
    j["d_inner"] = c.d_inner;
    j["d_state"] = c.d_state;
    j["d_conv"] = c.d_conv;
    if (c.arch == ssm::Arch::mamba1) {
      j["dt_rank"] = c.dt_rank;
    } else {
      j["heads"] = c.n_heads;
      j["headdim"] = c.head_dim;
      j["ngroups"] = c.n_groups;
    }
    j["audio_model"] = c.has_audio_head;
    j["in_channels"] = c.in_channels;
    j["out_channels"] = c.out_channels;
    j["skip"] = c.has_skip;
    j["sample_rate"] = c.sample_rate;
    j["norm_eps"] = c.norm_eps;
    if (c.arch == ssm::Arch::mamba2)
      j["gate_norm_eps"] = c.gate_norm_eps;
    j["parameters"] = static_cast<long long>(cost.parameters);
    j["flops_per_sample"] = cost.flops;
    j["transcendentals_per_sample"] = cost.transcendentals;
    j["gflop_per_audio_second"] = gflop_per_s;
    j["gexp_per_audio_second"] = gtrans_per_s;
    j["state_floats_per_stream"] = c.n_layers * ((c.d_conv - 1) * c.conv_dim() + c.d_inner * c.d_state);
    j["metadata"] = w.metadata;
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("file:        %s\n", o.model.c_str());
  std::printf("model:       %s\n", ssm::describe(c).c_str());
  std::printf("parameters:  %.0f (%.1f KiB as fp32)\n", cost.parameters, cost.parameters * 4 / 1024.0);
  if (c.sample_rate > 0) {
    std::printf("sample rate: %.0f Hz\n", c.sample_rate);
  } else {
    std::printf("sample rate: none (a sequence model)\n");
  }
  std::printf("norm eps:    %g", double(c.norm_eps));
  if (c.arch == ssm::Arch::mamba2)
    std::printf(" (gated norm: %g)", double(c.gate_norm_eps));
  std::printf("\n");
  std::printf("cost:        %.0f FLOP + %.0f exp/log per sample = %.3f GFLOP + %.3f G exp per second of audio%s\n",
              cost.flops, cost.transcendentals, gflop_per_s, gtrans_per_s, c.sample_rate > 0 ? "" : " (at 48 kHz)");
  std::printf("state:       %d floats per stream\n",
              c.n_layers * ((c.d_conv - 1) * c.conv_dim() + c.d_inner * c.d_state));
  std::printf("metadata:\n");
  for (const auto& [k, v] : w.metadata)
    std::printf("  %-16s %s\n", k.c_str(), v.c_str());
  return kExitOk;
}

}  // namespace sw::cli
