// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/ssm/reference_model.h"

#include <Eigen/Dense>
#include <cmath>

namespace sw::ssm {

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

// Row-major [rows, cols] floats → Eigen matrix.
Mat to_mat(const std::vector<float>& v, Eigen::Index rows, Eigen::Index cols) {
  Mat m(rows, cols);
  for (Eigen::Index r = 0; r < rows; ++r)
    for (Eigen::Index c = 0; c < cols; ++c)
      m(r, c) = v[static_cast<std::size_t>(r * cols + c)];
  return m;
}
Vec to_vec(const std::vector<float>& v) {
  Vec out(static_cast<Eigen::Index>(v.size()));
  for (std::size_t i = 0; i < v.size(); ++i)
    out(static_cast<Eigen::Index>(i)) = v[i];
  return out;
}
double softplus(double x) {
  return x > 20.0 ? x : std::log1p(std::exp(x));
}
double silu(double x) {
  return x / (1.0 + std::exp(-x));
}
Vec rmsnorm(const Vec& x, const Vec& w, double eps) {
  const double inv = 1.0 / std::sqrt(x.squaredNorm() / double(x.size()) + eps);
  return (x * inv).cwiseProduct(w);
}

struct Layer {
  Vec norm_w;
  Mat in_proj;
  Vec in_proj_b;
  Mat conv_w;
  Vec conv_b;  // [C, K]
  Mat x_proj, dt_proj;
  Vec dt_proj_b;
  Vec dt_bias;
  Mat a_log;
  Vec d;  // a_log: m1 [E, N]; m2 [H, 1]
  Vec gate_norm_w;
  Mat out_proj;
  Vec out_proj_b;
  // state
  Mat conv_hist;  // [C, K] (column K-1 is the newest sample)
  Mat h;          // m1: [E, N]; m2: [H*P, N]
};

}  // namespace

struct ReferenceModel::Impl {
  ModelConfig c;
  std::vector<Layer> layers;
  Vec norm_f;
  Mat in_w, out_w, skip_w;
  Vec in_b, out_b;

  Vec mixer1(Layer& L, const Vec& hs) const {
    const Eigen::Index E = c.d_inner, N = c.d_state, R = c.dt_rank, K = c.d_conv;
    Vec xz = L.in_proj * hs;
    if (L.in_proj_b.size())
      xz += L.in_proj_b;
    const Vec x = xz.head(E), z = xz.tail(E);
    // causal conv: shift history left, newest sample into the last column
    for (Eigen::Index k = 0; k + 1 < K; ++k)
      L.conv_hist.col(k) = L.conv_hist.col(k + 1);
    L.conv_hist.col(K - 1) = x;
    Vec u(E);
    for (Eigen::Index e = 0; e < E; ++e)
      u(e) = silu(L.conv_w.row(e).dot(L.conv_hist.row(e)) + L.conv_b(e));
    const Vec xdbl = L.x_proj * u;  // [R + 2N]
    const Vec dt_in = xdbl.head(R), B = xdbl.segment(R, N), C = xdbl.tail(N);
    Vec dt = L.dt_proj * dt_in + L.dt_proj_b;
    Vec y(E);
    for (Eigen::Index e = 0; e < E; ++e) {
      dt(e) = softplus(dt(e));
      double acc = 0;
      for (Eigen::Index n = 0; n < N; ++n) {
        const double A = -std::exp(L.a_log(e, n));
        L.h(e, n) = std::exp(dt(e) * A) * L.h(e, n) + dt(e) * B(n) * u(e);
        acc += L.h(e, n) * C(n);
      }
      y(e) = (acc + L.d(e) * u(e)) * silu(z(e));
    }
    Vec out = L.out_proj * y;
    if (L.out_proj_b.size())
      out += L.out_proj_b;
    return out;
  }

  Vec mixer2(Layer& L, const Vec& hs) const {
    const Eigen::Index E = c.d_inner, N = c.d_state, K = c.d_conv, G = c.n_groups, H = c.n_heads, P = c.head_dim,
                       conv = c.conv_dim();
    Vec zxd = L.in_proj * hs;
    if (L.in_proj_b.size())
      zxd += L.in_proj_b;
    const Vec z = zxd.head(E), xbc = zxd.segment(E, conv), dt_raw = zxd.tail(H);
    for (Eigen::Index k = 0; k + 1 < K; ++k)
      L.conv_hist.col(k) = L.conv_hist.col(k + 1);
    L.conv_hist.col(K - 1) = xbc;
    Vec u(conv);
    for (Eigen::Index i = 0; i < conv; ++i)
      u(i) = silu(L.conv_w.row(i).dot(L.conv_hist.row(i)) + L.conv_b(i));
    Vec y(E);
    for (Eigen::Index h = 0; h < H; ++h) {
      const Eigen::Index g = h / (H / G);
      const double dt = softplus(dt_raw(h) + L.dt_bias(h));
      const double dA = std::exp(dt * -std::exp(L.a_log(h, 0)));
      for (Eigen::Index p = 0; p < P; ++p) {
        const Eigen::Index ch = h * P + p;
        double acc = 0;
        for (Eigen::Index n = 0; n < N; ++n) {
          L.h(ch, n) = dA * L.h(ch, n) + dt * u(E + g * N + n) * u(ch);
          acc += L.h(ch, n) * u(E + G * N + g * N + n);
        }
        const double D = c.d_per_channel ? L.d(ch) : L.d(h);
        y(ch) = (acc + D * u(ch)) * silu(z(ch));
      }
    }
    const Eigen::Index gs = E / G;
    for (Eigen::Index g = 0; g < G; ++g) {
      Vec seg = y.segment(g * gs, gs);
      y.segment(g * gs, gs) = rmsnorm(seg, L.gate_norm_w.segment(g * gs, gs), c.gate_norm_eps);
    }
    Vec out = L.out_proj * y;
    if (L.out_proj_b.size())
      out += L.out_proj_b;
    return out;
  }
};

ReferenceModel::ReferenceModel(const ModelWeights& w) : impl_(new Impl) {
  w.check_sizes();
  Impl& m = *impl_;
  m.c = w.config;
  const ModelConfig& c = m.c;
  const Eigen::Index D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank, H = c.n_heads,
                     conv = c.conv_dim(), rows = c.in_proj_rows();
  for (const LayerWeights& lw : w.layers) {
    Layer L;
    L.norm_w = to_vec(lw.norm_w);
    L.in_proj = to_mat(lw.in_proj_w, rows, D);
    L.in_proj_b = to_vec(lw.in_proj_b);
    L.conv_w = to_mat(lw.conv_w, conv, K);
    L.conv_b = to_vec(lw.conv_b);
    L.out_proj = to_mat(lw.out_proj_w, D, E);
    L.out_proj_b = to_vec(lw.out_proj_b);
    L.d = to_vec(lw.d);
    L.conv_hist = Mat::Zero(conv, K);
    if (c.arch == Arch::mamba1) {
      L.x_proj = to_mat(lw.x_proj_w, R + 2 * N, E);
      L.dt_proj = to_mat(lw.dt_proj_w, E, R);
      L.dt_proj_b = to_vec(lw.dt_proj_b);
      L.a_log = to_mat(lw.a_log, E, N);
      L.h = Mat::Zero(E, N);
    } else {
      L.dt_bias = to_vec(lw.dt_bias);
      L.a_log = to_mat(lw.a_log, H, 1);
      L.gate_norm_w = to_vec(lw.gate_norm_w);
      L.h = Mat::Zero(E, N);
    }
    m.layers.push_back(std::move(L));
  }
  m.norm_f = to_vec(w.norm_f_w);
  if (c.has_audio_head) {
    m.in_w = to_mat(w.audio_in_w, D, c.in_channels);
    m.in_b = to_vec(w.audio_in_b);
    m.out_w = to_mat(w.audio_out_w, c.out_channels, D);
    m.out_b = to_vec(w.audio_out_b);
    if (c.has_skip)
      m.skip_w = to_mat(w.audio_skip_w, c.out_channels, c.in_channels);
  }
}

ReferenceModel::~ReferenceModel() {
  delete impl_;
}

void ReferenceModel::reset() {
  for (Layer& L : impl_->layers) {
    L.conv_hist.setZero();
    L.h.setZero();
  }
}

void ReferenceModel::process(const float* in, float* out, std::size_t frames) {
  Impl& m = *impl_;
  const ModelConfig& c = m.c;
  const Eigen::Index ci = c.in_channels, co = c.out_channels;
  for (std::size_t t = 0; t < frames; ++t) {
    Vec u(ci);
    for (Eigen::Index i = 0; i < ci; ++i)
      u(i) = in[t * ci + i];
    Vec r = c.has_audio_head ? Vec(m.in_w * u + m.in_b) : u;
    for (Layer& L : m.layers) {
      const Vec hs = rmsnorm(r, L.norm_w, c.norm_eps);
      r += c.arch == Arch::mamba1 ? m.mixer1(L, hs) : m.mixer2(L, hs);
    }
    const Vec nf = rmsnorm(r, m.norm_f, c.norm_eps);
    Vec y = nf;
    if (c.has_audio_head) {
      y = m.out_w * nf + m.out_b;
      if (c.has_skip)
        y += m.skip_w * u;
    }
    for (Eigen::Index o = 0; o < co; ++o)
      out[t * co + o] = static_cast<float>(y(o));
  }
}

}  // namespace sw::ssm
