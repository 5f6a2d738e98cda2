// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder info FILE`: what a model is and what it costs.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "sidewinder/speech/voice_loader.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

namespace {

// A voice file: what it is, whose it is, and what it costs.
int voice_info(const InfoOptions& o) {
  const auto v = speech::load_voice(o.model);
  const auto& s = v->synth->spec;
  nlohmann::json models = nlohmann::json::object();
  for (const auto& [name, m] : {std::pair{"enc_fwd", v->enc_fwd}, {"enc_bwd", v->enc_bwd}, {"decoder", v->decoder}})
    models[name] = {{"model", ssm::describe(m->config())}, {"parameters", m->cost().parameters}};
  if (o.json) {
    std::map<std::string, std::string> meta = v->metadata;
    meta.erase("phoneme_map");
    const nlohmann::json j = {{"file", o.model},
                              {"kind", "voice"},
                              {"name", v->name},
                              {"language", v->language},
                              {"license", v->license},
                              {"credits", v->credits},
                              {"sample_rate", s.sample_rate},
                              {"hop", s.hop},
                              {"symbols", v->n_symbols},
                              {"parameters", v->parameter_count()},
                              {"models", models},
                              {"metadata", meta}};
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("file:        %s\n", o.model.c_str());
  std::printf("voice:       %s (%s)\n", v->name.c_str(), v->language.c_str());
  std::printf("licence:     %s\n", v->license.c_str());
  std::printf("credits:     %s\n", v->credits.c_str());
  std::printf("audio:       %d Hz, %d-sample frames, harmonic-plus-noise (%d harmonics, %d noise bands)\n",
              s.sample_rate, s.hop, s.max_harmonics, s.noise_bands);
  std::printf("phonemes:    %d symbols (espeak-ng voice %s)\n", v->n_symbols, v->espeak_voice.c_str());
  std::printf("parameters:  %zu (%.1f MiB as fp32)\n", v->parameter_count(), v->parameter_count() * 4 / 1048576.0);
  for (const auto& [name, m] : models.items())
    std::printf("  %-9s  %s\n", name.c_str(), m["model"].get<std::string>().c_str());
  return kExitOk;
}

}  // namespace

int run_info(const InfoOptions& o) {
  if (speech::is_voice_file(ssm::read_safetensors(o.model)))
    return voice_info(o);
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
