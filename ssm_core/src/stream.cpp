// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/ssm/stream.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "sidewinder/denormal_guard.h"

namespace sw::ssm {

Stream::Stream(std::shared_ptr<const Model> model, const KernelTable* kernels)
    : model_(std::move(model)), kernels_(kernels ? kernels : &best_kernels()) {
  if (!model_)
    throw std::invalid_argument("Stream: null model");
}

void Stream::prepare(const ProcessSpec& spec) {
  const ModelConfig& c = model_->config();
  if (spec.max_block_size == 0)
    throw std::invalid_argument("prepare: max_block_size must be >= 1");
  if (c.sample_rate > 0 && spec.sample_rate > 0 && spec.sample_rate != c.sample_rate) {
    throw std::invalid_argument("prepare: the model runs at " + std::to_string(int(c.sample_rate)) +
                                " Hz, the host at " + std::to_string(int(spec.sample_rate)) +
                                " Hz; resample first (sw::dsp::Resampler)");
  }
  const std::size_t T = spec.max_block_size < kMaxChunk ? spec.max_block_size : kMaxChunk;
  const std::size_t L = c.n_layers, K = c.d_conv, N = c.d_state, H = c.n_heads;
  d_pad_ = pad_to_vector(c.d_model);
  e_pad_ = pad_to_vector(c.d_inner);
  conv_pad_ = pad_to_vector(c.conv_dim());
  n_pad_ = pad_to_vector(N);
  r_pad_ = pad_to_vector(c.dt_rank > 0 ? c.dt_rank : 1);
  h_pad_ = pad_to_vector(H > 0 ? H : 1);
  p_pad_ = pad_to_vector(c.head_dim > 0 ? c.head_dim : 1);
  out_pad_ = pad_to_vector(c.out_channels);
  const std::size_t hist = arena_round((K - 1) * conv_pad_);
  const std::size_t ssm = arena_round(c.arch == Arch::mamba1 ? N * e_pad_ : H * N * p_pad_);
  const std::size_t state = L * (hist + ssm);
  const std::size_t dt_w = c.arch == Arch::mamba1 ? e_pad_ : h_pad_;
  const std::size_t dtin_w = c.arch == Arch::mamba1 ? r_pad_ : 2 * h_pad_;
  const std::size_t scratch = 2 * arena_round(T * d_pad_) + arena_round((K - 1 + T) * conv_pad_) +
                              arena_round(T * conv_pad_) + 2 * arena_round(T * e_pad_) + arena_round(T * dt_w) +
                              arena_round(T * dtin_w) + 2 * arena_round(T * n_pad_) + arena_round(T * out_pad_);
  AlignedBuffer arena(state + scratch);
  float* p = arena.data();
  auto take = [&p](std::size_t n) {
    float* v = p;
    p += arena_round(n);
    return v;
  };
  conv_hist_.assign(L, nullptr);
  ssm_state_.assign(L, nullptr);
  for (std::size_t l = 0; l < L; ++l) {
    conv_hist_[l] = take((K - 1) * conv_pad_);
    ssm_state_[l] = take(c.arch == Arch::mamba1 ? N * e_pad_ : H * N * p_pad_);
  }
  state_floats_ = state;
  r_ = take(T * d_pad_);
  nrm_ = take(T * d_pad_);
  xc_ = take((K - 1 + T) * conv_pad_);
  u_ = take(T * conv_pad_);
  z_ = take(T * e_pad_);
  y_ = take(T * e_pad_);
  dt_ = take(T * dt_w);
  dtin_ = take(T * dtin_w);
  bm_ = take(T * n_pad_);
  cm_ = take(T * n_pad_);
  ostage_ = take(T * out_pad_);
  arena_ = std::move(arena);
  chunk_ = T;
}

void Stream::reset() noexcept {
  if (arena_.data())
    std::memset(arena_.data(), 0, arena_.size() * sizeof(float));
}

void Stream::linear(const PackedLinear& p, const float* x, std::size_t x_stride, std::size_t rows, float* y,
                    std::size_t y_stride, bool accumulate) const noexcept {
  const LinearArgs a{x, x_stride, rows, p.k, p.wt, p.bias, p.n_pad, y, y_stride, accumulate};
  kernels_->linear(a);
}

void Stream::process(const float* in, float* out, std::size_t frames) noexcept {
  const std::size_t ci = static_cast<std::size_t>(in_channels());
  const std::size_t co = static_cast<std::size_t>(out_channels());
  if (!is_prepared()) {
    std::memset(out, 0, frames * co * sizeof(float));
    return;
  }
  ScopedDenormalGuard guard;
  while (frames > 0) {
    const std::size_t rows = frames < chunk_ ? frames : chunk_;
    process_chunk(in, out, rows);
    in += rows * ci;
    out += rows * co;
    frames -= rows;
  }
}

void Stream::process_chunk(const float* in, float* out, std::size_t rows) noexcept {
  const ModelConfig& c = model_->config();
  const std::size_t D = c.d_model, ci = c.in_channels, co = c.out_channels;
  // r = audio.in_proj(u)  [rows, D]; a backbone takes the D-dim input as is.
  if (c.has_audio_head) {
    linear(model_->audio_in(), in, ci, rows, r_, d_pad_, false);
  } else {
    for (std::size_t t = 0; t < rows; ++t)
      std::memcpy(r_ + t * d_pad_, in + t * D, D * sizeof(float));
  }
  for (std::size_t l = 0; l < static_cast<std::size_t>(c.n_layers); ++l) {
    // Block: r = r + mixer(RMSNorm(r)). ref: mamba_ssm/modules/block.py
    kernels_->rmsnorm(r_, d_pad_, rows, D, model_->layer(l).norm_w, c.norm_eps, nrm_, d_pad_);
    if (c.arch == Arch::mamba1) {
      mamba1_layer(l, rows);
    } else {
      mamba2_layer(l, rows);
    }
  }
  kernels_->rmsnorm(r_, d_pad_, rows, D, model_->norm_f_w(), c.norm_eps, nrm_, d_pad_);
  if (c.has_audio_head) {
    linear(model_->audio_out(), nrm_, d_pad_, rows, ostage_, out_pad_, false);
    if (c.has_skip)
      linear(model_->audio_skip(), in, ci, rows, ostage_, out_pad_, true);
    for (std::size_t t = 0; t < rows; ++t)
      std::memcpy(out + t * co, ostage_ + t * out_pad_, co * sizeof(float));
  } else {
    for (std::size_t t = 0; t < rows; ++t)
      std::memcpy(out + t * D, nrm_ + t * d_pad_, D * sizeof(float));
  }
}

// ref: mamba_ssm/modules/mamba_simple.py Mamba.forward / Mamba.step
void Stream::mamba1_layer(std::size_t l, std::size_t rows) noexcept {
  const ModelConfig& c = model_->config();
  const PackedLayer& w = model_->layer(l);
  const std::size_t K = c.d_conv, hist = (K - 1) * conv_pad_;
  // (x, z) = in_proj(nrm); x goes after the conv history rows.
  std::memcpy(xc_, conv_hist_[l], hist * sizeof(float));
  linear(w.in_x, nrm_, d_pad_, rows, xc_ + hist, conv_pad_, false);  // [rows, E]
  linear(w.in_z, nrm_, d_pad_, rows, z_, e_pad_, false);             // [rows, E]
  kernels_->conv_silu(ConvArgs{xc_, conv_pad_, rows, K, w.conv_w, w.conv_b, conv_pad_, u_});
  std::memcpy(conv_hist_[l], xc_ + rows * conv_pad_, hist * sizeof(float));
  // (dt, B, C) = x_proj(u); dt = softplus(dt_proj(dt) + bias)
  linear(w.x_dt, u_, e_pad_, rows, dtin_, r_pad_, false);      // [rows, R]
  linear(w.x_b, u_, e_pad_, rows, bm_, n_pad_, false);         // [rows, N]
  linear(w.x_c, u_, e_pad_, rows, cm_, n_pad_, false);         // [rows, N]
  linear(w.dt_proj, dtin_, r_pad_, rows, dt_, e_pad_, false);  // [rows, E]
  kernels_->softplus(dt_, dt_, rows * e_pad_);
  kernels_->silu(z_, z_, rows * e_pad_);
  kernels_->mamba1_scan(Mamba1ScanArgs{rows, e_pad_, static_cast<std::size_t>(c.d_state), e_pad_, dt_, u_, z_, bm_, cm_,
                                       n_pad_, w.a_t, w.d, ssm_state_[l], y_});
  // r += out_proj(y)
  linear(w.out, y_, e_pad_, rows, r_, d_pad_, true);
}

// ref: mamba_ssm/modules/mamba2.py Mamba2.step
void Stream::mamba2_layer(std::size_t l, std::size_t rows) noexcept {
  const ModelConfig& c = model_->config();
  const PackedLayer& w = model_->layer(l);
  const std::size_t K = c.d_conv, E = c.d_inner, N = c.d_state, G = c.n_groups, H = c.n_heads;
  const std::size_t hist = (K - 1) * conv_pad_;
  std::memcpy(xc_, conv_hist_[l], hist * sizeof(float));
  linear(w.in_z, nrm_, d_pad_, rows, z_, e_pad_, false);               // [rows, E]
  linear(w.in_xbc, nrm_, d_pad_, rows, xc_ + hist, conv_pad_, false);  // [rows, E + 2GN]
  linear(w.in_dt, nrm_, d_pad_, rows, dt_, h_pad_, false);             // [rows, H] (+ dt_bias)
  kernels_->conv_silu(ConvArgs{xc_, conv_pad_, rows, K, w.conv_w, w.conv_b, conv_pad_, u_});
  std::memcpy(conv_hist_[l], xc_ + rows * conv_pad_, hist * sizeof(float));
  // dt = softplus(dt), dA = exp(dt·A): dt_ [rows, h_pad] in, compact [rows, H] each out
  float* const dt = dtin_;
  float* const da = dtin_ + chunk_ * h_pad_;
  kernels_->mamba2_dt(dt_, h_pad_, rows, H, w.a_t, dt, da);
  kernels_->mamba2_scan(Mamba2ScanArgs{rows, H, static_cast<std::size_t>(c.head_dim), p_pad_, N, G, u_, conv_pad_, E,
                                       E + G * N, dt, da, H, w.d, c.d_per_channel, ssm_state_[l], y_, e_pad_});
  // Gated RMSNorm, norm_before_gate=False, one group per E/G channels.
  // ref: mamba_ssm/ops/triton/layernorm_gated.py rms_norm_ref
  kernels_->silu(z_, z_, rows * e_pad_);
  kernels_->gated_rmsnorm(y_, z_, e_pad_, rows, E, G, w.gate_norm_w, c.gate_norm_eps);
  linear(w.out, y_, e_pad_, rows, r_, d_pad_, true);
}

}  // namespace sw::ssm
