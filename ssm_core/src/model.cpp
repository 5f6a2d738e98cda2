// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/ssm/model.h"

#include <cmath>
#include <cstring>

#include "sidewinder/ssm/kernels.h"

namespace sw::ssm {

namespace {

// Collects packed blobs, then copies them into one arena and points every
// registered view at its blob (llm.c's malloc_and_point_parameters, in two
// steps so packing code stays simple).
class ArenaBuilder {
 public:
  const float** add(std::vector<float> blob, const float** target) {
    blobs_.push_back(std::move(blob));
    targets_.push_back(target);
    return target;
  }
  AlignedBuffer finish() {
    std::size_t total = 0;
    for (const auto& b : blobs_)
      total += arena_round(b.size());
    AlignedBuffer arena(total);
    std::size_t off = 0;
    for (std::size_t i = 0; i < blobs_.size(); ++i) {
      if (!blobs_[i].empty())
        std::memcpy(arena.data() + off, blobs_[i].data(), blobs_[i].size() * sizeof(float));
      *targets_[i] = arena.data() + off;
      off += arena_round(blobs_[i].size());
    }
    return arena;
  }

 private:
  std::vector<std::vector<float>> blobs_;
  std::vector<const float**> targets_;
};

// Rows [row0, row0 + n) of W [*, k] (row-major) → wt [k, n_pad]; bias likewise.
void pack_linear(ArenaBuilder& ab, PackedLinear& p, const std::vector<float>& w, std::size_t k, std::size_t row0,
                 std::size_t n, const float* bias_rows /* [n] or null */,
                 const float* extra_bias /* [n] or null, added */) {
  p.k = k;
  p.n = n;
  p.n_pad = pad_to_vector(n);
  std::vector<float> wt(k * p.n_pad, 0.0f);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < k; ++c)
      wt[c * p.n_pad + r] = w[(row0 + r) * k + c];
  std::vector<float> b(p.n_pad, 0.0f);
  for (std::size_t r = 0; r < n; ++r) {
    b[r] = (bias_rows ? bias_rows[r] : 0.0f) + (extra_bias ? extra_bias[r] : 0.0f);
  }
  ab.add(std::move(wt), &p.wt);
  ab.add(std::move(b), &p.bias);
}

std::vector<float> padded(const std::vector<float>& v, std::size_t n_pad) {
  std::vector<float> out(n_pad, 0.0f);
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

}  // namespace

std::shared_ptr<const Model> Model::create(const ModelWeights& weights) {
  weights.check_sizes();
  const ModelConfig& c = weights.config;
  std::shared_ptr<Model> m(new Model());
  m->config_ = c;
  m->metadata_ = weights.metadata;
  m->layers_.resize(c.n_layers);

  const std::size_t D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  const std::size_t H = c.n_heads, conv = c.conv_dim(), conv_pad = pad_to_vector(conv);
  const std::size_t e_pad = pad_to_vector(E);
  ArenaBuilder ab;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights.layers[l];
    PackedLayer& p = m->layers_[l];
    ab.add(padded(w.norm_w, pad_to_vector(D)), &p.norm_w);
    const float* ipb = c.has_in_proj_bias ? w.in_proj_b.data() : nullptr;
    auto ipb_at = [&](std::size_t row) { return ipb ? ipb + row : nullptr; };
    // conv1d.weight [conv, 1, K] → [K, conv_pad]
    std::vector<float> cw(K * conv_pad, 0.0f);
    for (std::size_t ch = 0; ch < conv; ++ch)
      for (std::size_t j = 0; j < K; ++j)
        cw[j * conv_pad + ch] = w.conv_w[ch * K + j];
    ab.add(std::move(cw), &p.conv_w);
    ab.add(padded(w.conv_b, conv_pad), &p.conv_b);
    pack_linear(ab, p.out, w.out_proj_w, E, 0, D, c.has_out_proj_bias ? w.out_proj_b.data() : nullptr, nullptr);
    if (c.arch == Arch::mamba1) {
      pack_linear(ab, p.in_x, w.in_proj_w, D, 0, E, ipb_at(0), nullptr);
      pack_linear(ab, p.in_z, w.in_proj_w, D, E, E, ipb_at(E), nullptr);
      pack_linear(ab, p.x_dt, w.x_proj_w, E, 0, R, nullptr, nullptr);
      pack_linear(ab, p.x_b, w.x_proj_w, E, R, N, nullptr, nullptr);
      pack_linear(ab, p.x_c, w.x_proj_w, E, R + N, N, nullptr, nullptr);
      pack_linear(ab, p.dt_proj, w.dt_proj_w, R, 0, E, w.dt_proj_b.data(), nullptr);
      // A = -exp(A_log) [E, N] → a_t [N, e_pad]; padding lanes get -1 (finite, inert).
      std::vector<float> at(N * e_pad, -1.0f);
      for (std::size_t e = 0; e < E; ++e)
        for (std::size_t n = 0; n < N; ++n)
          at[n * e_pad + e] = static_cast<float>(-std::exp(double(w.a_log[e * N + n])));
      ab.add(std::move(at), &p.a_t);
      ab.add(padded(w.d, e_pad), &p.d);
    } else {
      pack_linear(ab, p.in_z, w.in_proj_w, D, 0, E, ipb_at(0), nullptr);
      pack_linear(ab, p.in_xbc, w.in_proj_w, D, E, conv, ipb_at(E), nullptr);
      pack_linear(ab, p.in_dt, w.in_proj_w, D, E + conv, H, ipb_at(E + conv), w.dt_bias.data());
      std::vector<float> a(pad_to_vector(H), -1.0f);
      for (std::size_t h = 0; h < H; ++h)
        a[h] = static_cast<float>(-std::exp(double(w.a_log[h])));
      ab.add(std::move(a), &p.a_t);
      ab.add(padded(w.d, pad_to_vector(w.d.size())), &p.d);
      ab.add(padded(w.gate_norm_w, e_pad), &p.gate_norm_w);
    }
  }
  ab.add(padded(weights.norm_f_w, pad_to_vector(D)), &m->norm_f_w_);
  if (c.has_audio_head) {
    const std::size_t ci = c.in_channels, co = c.out_channels;
    pack_linear(ab, m->audio_in_, weights.audio_in_w, ci, 0, D, weights.audio_in_b.data(), nullptr);
    pack_linear(ab, m->audio_out_, weights.audio_out_w, D, 0, co, weights.audio_out_b.data(), nullptr);
    if (c.has_skip)
      pack_linear(ab, m->audio_skip_, weights.audio_skip_w, ci, 0, co, nullptr, nullptr);
  }
  m->arena_ = ab.finish();
  if (!c.has_skip)
    m->audio_skip_ = PackedLinear{};
  return m;
}

}  // namespace sw::ssm
