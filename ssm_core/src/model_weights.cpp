// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/ssm/model_weights.h"

#include <cmath>
#include <random>
#include <stdexcept>

namespace sw::ssm {

namespace {

void expect_size(const std::vector<float>& v, std::size_t n, const std::string& what) {
  if (v.size() != n) {
    throw std::invalid_argument("weights: " + what + " has " + std::to_string(v.size()) + " values, expected " +
                                std::to_string(n));
  }
}

}  // namespace

void ModelWeights::check_sizes() const {
  const ModelConfig& c = config;
  c.validate();
  const std::size_t D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  const std::size_t H = c.n_heads, rows = c.in_proj_rows(), conv = c.conv_dim();
  if (layers.size() != static_cast<std::size_t>(c.n_layers)) {
    throw std::invalid_argument("weights: layer count disagrees with config");
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerWeights& w = layers[i];
    const std::string p = "layer " + std::to_string(i) + " ";
    expect_size(w.norm_w, D, p + "norm");
    expect_size(w.in_proj_w, rows * D, p + "in_proj");
    expect_size(w.in_proj_b, c.has_in_proj_bias ? rows : 0, p + "in_proj bias");
    expect_size(w.conv_w, conv * K, p + "conv1d");
    expect_size(w.conv_b, conv, p + "conv1d bias");
    expect_size(w.out_proj_w, D * E, p + "out_proj");
    expect_size(w.out_proj_b, c.has_out_proj_bias ? D : 0, p + "out_proj bias");
    if (c.arch == Arch::mamba1) {
      expect_size(w.x_proj_w, (R + 2 * N) * E, p + "x_proj");
      expect_size(w.dt_proj_w, E * R, p + "dt_proj");
      expect_size(w.dt_proj_b, E, p + "dt_proj bias");
      expect_size(w.a_log, E * N, p + "A_log");
      expect_size(w.d, E, p + "D");
    } else {
      expect_size(w.dt_bias, H, p + "dt_bias");
      expect_size(w.a_log, H, p + "A_log");
      expect_size(w.d, c.d_per_channel ? E : H, p + "D");
      expect_size(w.gate_norm_w, E, p + "norm (gated)");
    }
  }
  expect_size(norm_f_w, D, "norm_f");
  if (c.has_audio_head) {
    const std::size_t ci = c.in_channels, co = c.out_channels;
    expect_size(audio_in_w, D * ci, "audio.in_proj");
    expect_size(audio_in_b, D, "audio.in_proj bias");
    expect_size(audio_out_w, co * D, "audio.out_proj");
    expect_size(audio_out_b, co, "audio.out_proj bias");
    expect_size(audio_skip_w, c.has_skip ? co * ci : 0, "audio.skip");
  }
}

ModelWeights make_random_weights(const ModelConfig& c, std::uint64_t seed) {
  c.validate();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  auto randn = [&](std::size_t n, float scale) {
    std::vector<float> v(n);
    for (float& x : v)
      x = normal(rng) * scale;
    return v;
  };
  auto around_one = [&](std::size_t n) {
    std::vector<float> v(n);
    for (float& x : v)
      x = 1.0f + 0.1f * normal(rng);
    return v;
  };
  // Inverse softplus of dt drawn log-uniformly in [1e-3, 1e-1] (mamba_ssm's dt init).
  auto dt_bias = [&](std::size_t n) {
    std::vector<float> v(n);
    for (float& x : v) {
      const double dt = std::exp(std::log(1e-3) + uniform(rng) * (std::log(1e-1) - std::log(1e-3)));
      x = static_cast<float>(dt + std::log(-std::expm1(-dt)));
    }
    return v;
  };
  const std::size_t D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  const std::size_t H = c.n_heads, rows = c.in_proj_rows(), conv = c.conv_dim();
  ModelWeights w;
  w.config = c;
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights L;
    L.norm_w = around_one(D);
    L.in_proj_w = randn(rows * D, 1.0f / std::sqrt(float(D)));
    if (c.has_in_proj_bias)
      L.in_proj_b = randn(rows, 0.1f);
    L.conv_w = randn(conv * K, 1.0f / std::sqrt(float(K)));
    L.conv_b = randn(conv, 0.1f);
    L.out_proj_w = randn(D * E, 0.5f / std::sqrt(float(E)));
    if (c.has_out_proj_bias)
      L.out_proj_b = randn(D, 0.1f);
    if (c.arch == Arch::mamba1) {
      L.x_proj_w = randn((R + 2 * N) * E, 1.0f / std::sqrt(float(E)));
      L.dt_proj_w = randn(E * R, 1.0f / std::sqrt(float(R)));
      L.dt_proj_b = dt_bias(E);
      L.a_log.resize(E * N);
      for (std::size_t e = 0; e < E; ++e)
        for (std::size_t n = 0; n < N; ++n)
          L.a_log[e * N + n] = std::log(float(n + 1));
      L.d = around_one(E);
    } else {
      L.dt_bias = dt_bias(H);
      L.a_log.resize(H);
      for (std::size_t h = 0; h < H; ++h)
        L.a_log[h] = std::log(1.0f + 15.0f * uniform(rng));
      L.d = around_one(c.d_per_channel ? E : H);
      L.gate_norm_w = around_one(E);
    }
    w.layers.push_back(std::move(L));
  }
  w.norm_f_w = around_one(D);
  if (c.has_audio_head) {
    const std::size_t ci = c.in_channels, co = c.out_channels;
    w.audio_in_w = randn(D * ci, 1.0f);
    w.audio_in_b = randn(D, 0.1f);
    w.audio_out_w = randn(co * D, 0.3f / std::sqrt(float(D)));
    w.audio_out_b = randn(co, 0.01f);
    if (c.has_skip)
      w.audio_skip_w = randn(co * ci, 0.5f);
  }
  w.metadata["name"] = "random";
  w.check_sizes();
  return w;
}

ModelConfig builtin_config(const std::string& name) {
  ModelConfig c;
  c.sample_rate = 48000.0;
  c.d_conv = 4;
  c.has_skip = true;
  if (name == "fx-s") {
    c.arch = Arch::mamba1;
    c.n_layers = 2, c.d_model = 16, c.d_inner = 32, c.d_state = 8, c.dt_rank = 1;
  } else if (name == "fx-m") {
    c.arch = Arch::mamba1;
    c.n_layers = 4, c.d_model = 32, c.d_inner = 64, c.d_state = 16, c.dt_rank = 2;
  } else if (name == "fx-m2") {
    c.arch = Arch::mamba2;
    c.n_layers = 4, c.d_model = 32, c.d_inner = 64, c.d_state = 16;
    c.head_dim = 16, c.n_heads = 4, c.n_groups = 1;
  } else {
    throw std::invalid_argument("unknown built-in config '" + name + "' (known: fx-s, fx-m, fx-m2)");
  }
  return c;
}

}  // namespace sw::ssm
