// SPDX-License-Identifier: GPL-3.0-or-later
//
// The obvious scalar implementations of every kernel in kernels.h: plain
// loops in the order the formulas are written, std::exp/std::log1p. They are
// the yardstick for the optimised tables (tests/test_kernels.cpp) and are
// never used for speed.
#include <cmath>

#include "sidewinder/ssm/kernels.h"

namespace sw::ssm {

namespace {

void ref_linear(const LinearArgs& a) noexcept {
  for (std::size_t t = 0; t < a.rows; ++t) {
    for (std::size_t n = 0; n < a.n_pad; ++n) {
      float acc = a.bias ? a.bias[n] : 0.0f;
      for (std::size_t k = 0; k < a.k; ++k)
        acc += a.x[t * a.x_stride + k] * a.wt[k * a.n_pad + n];
      float& y = a.y[t * a.y_stride + n];
      y = a.accumulate ? y + acc : acc;
    }
  }
}

float ref_silu1(float x) noexcept {
  return x / (1.0f + std::exp(-x));
}

void ref_conv_silu(const ConvArgs& a) noexcept {
  for (std::size_t t = 0; t < a.rows; ++t) {
    for (std::size_t c = 0; c < a.c_pad; ++c) {
      float acc = a.b[c];
      for (std::size_t j = 0; j < a.width; ++j)
        acc += a.w[j * a.c_pad + c] * a.xc[(t + j) * a.stride + c];
      a.u[t * a.stride + c] = ref_silu1(acc);
    }
  }
}

void ref_mamba1_scan(const Mamba1ScanArgs& a) noexcept {
  for (std::size_t t = 0; t < a.rows; ++t) {
    for (std::size_t e = 0; e < a.e_pad; ++e) {
      const float dt = a.dt[t * a.stride + e];
      const float u = a.u[t * a.stride + e];
      float y = 0.0f;
      for (std::size_t n = 0; n < a.n; ++n) {
        float& h = a.h[n * a.e_pad + e];
        h = std::exp(dt * a.a_t[n * a.e_pad + e]) * h + dt * u * a.b[t * a.bc_stride + n];
        y += h * a.c[t * a.bc_stride + n];
      }
      a.y[t * a.stride + e] = (y + a.d[e] * u) * a.sz[t * a.stride + e];
    }
  }
}

void ref_mamba2_scan(const Mamba2ScanArgs& a) noexcept {
  const std::size_t P = a.head_dim, N = a.n;
  for (std::size_t t = 0; t < a.rows; ++t) {
    const float* xr = a.x + t * a.x_stride;
    for (std::size_t hd = 0; hd < a.heads; ++hd) {
      const std::size_t g = hd / (a.heads / a.groups);
      const float dt = a.dt[t * a.dt_stride + hd];
      const float da = a.da[t * a.dt_stride + hd];
      for (std::size_t p = 0; p < P; ++p) {
        const float x = xr[hd * P + p];
        float y = 0.0f;
        for (std::size_t n = 0; n < N; ++n) {
          float& h = a.h[(hd * N + n) * a.p_pad + p];
          h = da * h + dt * x * xr[a.b_offset + g * N + n];
          y += h * xr[a.c_offset + g * N + n];
        }
        const float d = a.d_per_channel ? a.d[hd * P + p] : a.d[hd];
        a.y[t * a.y_stride + hd * P + p] = y + d * x;
      }
    }
  }
}

void ref_rmsnorm(const float* x, std::size_t x_stride, std::size_t rows, std::size_t d, const float* w, float eps,
                 float* y, std::size_t y_stride) noexcept {
  for (std::size_t t = 0; t < rows; ++t) {
    double ss = 0.0;
    for (std::size_t c = 0; c < d; ++c)
      ss += double(x[t * x_stride + c]) * x[t * x_stride + c];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / double(d) + eps));
    for (std::size_t c = 0; c < d; ++c)
      y[t * y_stride + c] = x[t * x_stride + c] * inv * w[c];
  }
}

void ref_gated_rmsnorm(float* y, const float* sz, std::size_t y_stride, std::size_t rows, std::size_t d,
                       std::size_t groups, const float* w, float eps) noexcept {
  const std::size_t gs = d / groups;
  for (std::size_t t = 0; t < rows; ++t) {
    for (std::size_t g = 0; g < groups; ++g) {
      float* yg = y + t * y_stride + g * gs;
      const float* zg = sz + t * y_stride + g * gs;
      double ss = 0.0;
      for (std::size_t i = 0; i < gs; ++i) {
        yg[i] *= zg[i];
        ss += double(yg[i]) * yg[i];
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / double(gs) + eps));
      for (std::size_t i = 0; i < gs; ++i)
        yg[i] = yg[i] * inv * w[g * gs + i];
    }
  }
}

void ref_mamba2_dt(const float* raw, std::size_t raw_stride, std::size_t rows, std::size_t heads, const float* a,
                   float* dt, float* da) noexcept {
  for (std::size_t t = 0; t < rows; ++t) {
    for (std::size_t h = 0; h < heads; ++h) {
      const float x = raw[t * raw_stride + h];
      const float sp = x > 20.0f ? x : std::log1p(std::exp(x));
      dt[t * heads + h] = sp;
      da[t * heads + h] = std::exp(sp * a[h]);
    }
  }
}

void ref_exp(const float* x, float* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    y[i] = std::exp(x[i]);
}

void ref_silu(const float* x, float* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    y[i] = ref_silu1(x[i]);
}

void ref_softplus(const float* x, float* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    y[i] = x[i] > 20.0f ? x[i] : std::log1p(std::exp(x[i]));
}

double ref_flop_probe(std::size_t iterations, float* sink) noexcept {
  float acc[4] = {0.0f, 0.001f, 0.002f, 0.003f};
  for (std::size_t it = 0; it < iterations; ++it)
    for (float& a : acc)
      a = a * 0.999999f + 1e-7f;
  *sink = acc[0] + acc[1] + acc[2] + acc[3];
  return double(iterations) * 4 * 2;
}

}  // namespace

const KernelTable& reference_kernels() noexcept {
  static const KernelTable table{"reference",     ref_linear,  ref_conv_silu,     ref_mamba1_scan,
                                 ref_mamba2_scan, ref_rmsnorm, ref_gated_rmsnorm, ref_mamba2_dt,
                                 ref_exp,         ref_silu,    ref_softplus,      ref_flop_probe};
  return table;
}

}  // namespace sw::ssm
