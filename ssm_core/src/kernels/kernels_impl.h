// SPDX-License-Identifier: GPL-3.0-or-later
//
// The optimised kernels, written once over 8-wide vectors and compiled per
// ISA: kernels_baseline.cpp (x86-64 SSE2) and kernels_avx2.cpp (AVX2+FMA).
// Everything lives in an anonymous namespace; each translation unit exports
// only its KernelTable. Scalar references: reference_kernels.cpp.
//
// Determinism: for one output element the order of floating-point operations
// does not depend on the block length or on where the element falls in a
// tile, so feeding a signal in any partition gives bit-identical results
// (within one ISA).
#pragma once

#include "sidewinder/ssm/kernels.h"
#include "simd.h"

namespace {

using std::size_t;
using sw::ssm::ConvArgs;
using sw::ssm::LinearArgs;
using sw::ssm::Mamba1ScanArgs;
using sw::ssm::Mamba2ScanArgs;

// ---- linear: register-blocked R rows × CV vectors of VW columns -----------
template <int R, int CV>
inline void linear_tile(const LinearArgs& a, size_t t0, size_t n0) noexcept {
  vf acc[R][CV];
  for (int c = 0; c < CV; ++c) {
    const vf b = a.bias ? vload(a.bias + n0 + VW * c) : vf{};
    for (int r = 0; r < R; ++r)
      acc[r][c] = b;
  }
  const float* xr[R];
  for (int r = 0; r < R; ++r)
    xr[r] = a.x + (t0 + r) * a.x_stride;
  const float* w = a.wt + n0;
  for (size_t k = 0; k < a.k; ++k, w += a.n_pad) {
    vf wv[CV];
    for (int c = 0; c < CV; ++c)
      wv[c] = vload(w + VW * c);
    for (int r = 0; r < R; ++r) {
      const vf xb = vset1(xr[r][k]);
      for (int c = 0; c < CV; ++c)
        acc[r][c] += xb * wv[c];
    }
  }
  for (int r = 0; r < R; ++r) {
    float* yr = a.y + (t0 + r) * a.y_stride + n0;
    for (int c = 0; c < CV; ++c) {
      if (a.accumulate) {
        vstore(yr + VW * c, vload(yr + VW * c) + acc[r][c]);
      } else {
        vstore(yr + VW * c, acc[r][c]);
      }
    }
  }
}

template <int R>
inline void linear_rows(const LinearArgs& a, size_t t0) noexcept {
  size_t n0 = 0;
  if (R <= 2) {
    for (; n0 + 4 * VW <= a.n_pad; n0 += 4 * VW)
      linear_tile<R, 4>(a, t0, n0);
  }
  for (; n0 + 2 * VW <= a.n_pad; n0 += 2 * VW)
    linear_tile<R, 2>(a, t0, n0);
  for (; n0 < a.n_pad; n0 += VW)
    linear_tile<R, 1>(a, t0, n0);
}

void k_linear(const LinearArgs& a) noexcept {
  size_t t = 0;
  for (; t + 4 <= a.rows; t += 4)
    linear_rows<4>(a, t);
  switch (a.rows - t) {
    case 3:
      linear_rows<3>(a, t);
      break;
    case 2:
      linear_rows<2>(a, t);
      break;
    case 1:
      linear_rows<1>(a, t);
      break;
    default:
      break;
  }
}

// ---- causal depthwise conv + SiLU ----------------------------------------
// Channel vectors outer, rows inner: the K weight vectors and bias stay in
// registers and each input row is loaded once per vector. The operation order
// per output (bias, then taps j = 0..K-1) is that of the reference.
template <int K>
inline void conv_silu_fixed(const ConvArgs& a) noexcept {
  for (size_t c = 0; c < a.c_pad; c += VW) {
    vf w[K];
    for (int j = 0; j < K; ++j)
      w[j] = vload(a.w + j * a.c_pad + c);
    const vf b = vload(a.b + c);
    const float* x = a.xc + c;
    float* u = a.u + c;
    for (size_t t = 0; t < a.rows; ++t, x += a.stride, u += a.stride) {
      vf acc = b;
      for (int j = 0; j < K; ++j)
        acc += w[j] * vload(x + j * a.stride);
      vstore(u, vsilu(acc));
    }
  }
}

void k_conv_silu(const ConvArgs& a) noexcept {
  switch (a.width) {
    case 2:
      return conv_silu_fixed<2>(a);
    case 3:
      return conv_silu_fixed<3>(a);
    case 4:
      return conv_silu_fixed<4>(a);
    default:
      break;
  }
  for (size_t t = 0; t < a.rows; ++t) {
    float* u = a.u + t * a.stride;
    for (size_t c = 0; c < a.c_pad; c += VW) {
      vf acc = vload(a.b + c);
      for (size_t j = 0; j < a.width; ++j) {
        acc += vload(a.w + j * a.c_pad + c) * vload(a.xc + (t + j) * a.stride + c);
      }
      vstore(u + c, vsilu(acc));
    }
  }
}

// ---- Mamba-1 selective scan, vectorised over channels ---------------------
void k_mamba1_scan(const Mamba1ScanArgs& a) noexcept {
  const size_t ep = a.e_pad, N = a.n, rows = a.rows, stride = a.stride, bcs = a.bc_stride;
  const float* const at_base = a.a_t;
  const float* const d = a.d;
  float* const h_base = a.h;
  for (size_t t = 0; t < rows; ++t) {
    const float* dt = a.dt + t * stride;
    const float* u = a.u + t * stride;
    const float* sz = a.sz + t * stride;
    const float* bt = a.b + t * bcs;
    const float* ct = a.c + t * bcs;
    float* y = a.y + t * stride;
    for (size_t e = 0; e < ep; e += VW) {
      const vf dtv = vload(dt + e);
      const vf uv = vload(u + e);
      const vf dtu = dtv * uv;
      vf acc{};
      float* h = h_base + e;
      const float* at = at_base + e;
#pragma GCC unroll 4
      for (size_t n = 0; n < N; ++n) {
        const vf da = vexp(dtv * vload(at + n * ep));
        const vf hv = da * vload(h + n * ep) + dtu * vset1(bt[n]);
        vstore(h + n * ep, hv);
        acc += hv * vset1(ct[n]);
      }
      vstore(y + e, (acc + vload(d + e) * uv) * vload(sz + e));
    }
  }
}

// ---- Mamba-2 scan ----------------------------------------------------------
// Vector path (P a multiple of VW): per row and group, the [H/G · P/VW] state
// vectors are updated in blocks of up to 4 with n outermost, so B[g,n] and
// C[g,n] are broadcast once per block and the blocks' accumulators form
// independent chains (tiny heads otherwise leave one serial chain per head).
// Per element the operation order is the reference's (n ascending).
template <int NB>
inline void mamba2_block(const Mamba2ScanArgs& a, size_t t, size_t g, size_t v0) noexcept {
  const size_t P = a.head_dim, N = a.n, pp = a.p_pad, vph = P / VW, hpg = a.heads / a.groups;
  const float* xr = a.x + t * a.x_stride;
  const float* bg = xr + a.b_offset + g * N;
  const float* cg = xr + a.c_offset + g * N;
  vf dtx[NB], dav[NB], xv[NB], acc[NB];
  float* hs[NB];
  size_t col[NB], head[NB];
  for (int j = 0; j < NB; ++j) {
    const size_t v = v0 + j, hd = g * hpg + v / vph, p = (v % vph) * VW;
    head[j] = hd;
    col[j] = hd * P + p;
    xv[j] = vload(xr + col[j]);
    dtx[j] = vset1(a.dt[t * a.dt_stride + hd]) * xv[j];
    dav[j] = vset1(a.da[t * a.dt_stride + hd]);
    hs[j] = a.h + hd * N * pp + p;
    acc[j] = vf{};
  }
  for (size_t n = 0; n < N; ++n) {
    const vf bn = vset1(bg[n]), cn = vset1(cg[n]);
    for (int j = 0; j < NB; ++j) {
      float* hp = hs[j] + n * pp;
      const vf hv = dav[j] * vload(hp) + dtx[j] * bn;
      vstore(hp, hv);
      acc[j] += hv * cn;
    }
  }
  float* yr = a.y + t * a.y_stride;
  for (int j = 0; j < NB; ++j) {
    const vf dv = a.d_per_channel ? vload(a.d + col[j]) : vset1(a.d[head[j]]);
    vstore(yr + col[j], acc[j] + dv * xv[j]);
  }
}

void k_mamba2_scan(const Mamba2ScanArgs& a) noexcept {
  const size_t P = a.head_dim, N = a.n, heads_per_group = a.heads / a.groups;
  if ((P % VW) == 0) {
    const size_t nv = heads_per_group * (P / VW);  // state vectors per group
    for (size_t t = 0; t < a.rows; ++t) {
      for (size_t g = 0; g < a.groups; ++g) {
        size_t v0 = 0;
        for (; v0 + 4 <= nv; v0 += 4)
          mamba2_block<4>(a, t, g, v0);
        switch (nv - v0) {
          case 3:
            mamba2_block<3>(a, t, g, v0);
            break;
          case 2:
            mamba2_block<2>(a, t, g, v0);
            break;
          case 1:
            mamba2_block<1>(a, t, g, v0);
            break;
          default:
            break;
        }
      }
    }
    return;
  }
  for (size_t t = 0; t < a.rows; ++t) {
    const float* xr = a.x + t * a.x_stride;
    float* yr = a.y + t * a.y_stride;
    for (size_t hd = 0; hd < a.heads; ++hd) {
      const size_t g = hd / heads_per_group;
      const float dt = a.dt[t * a.dt_stride + hd];
      const float da = a.da[t * a.dt_stride + hd];
      const float* bg = xr + a.b_offset + g * N;
      const float* cg = xr + a.c_offset + g * N;
      float* hs = a.h + hd * N * a.p_pad;
      const float* xh = xr + hd * P;
      float* yh = yr + hd * P;
      for (size_t p = 0; p < P; ++p) {
        const float xv = xh[p];
        const float dtx = dt * xv;
        float acc = 0.0f;
        for (size_t n = 0; n < N; ++n) {
          float* hp = hs + n * a.p_pad + p;
          const float hv = da * *hp + dtx * bg[n];
          *hp = hv;
          acc += hv * cg[n];
        }
        const float dv = a.d_per_channel ? a.d[hd * P + p] : a.d[hd];
        yh[p] = acc + dv * xv;
      }
    }
  }
}

// ---- RMSNorm ----------------------------------------------------------------
// Vector path (d a multiple of VW): sums of squares by vector, then one vector
// square root and division for VW rows at a time (tiny d would otherwise pay a
// scalar sqrt and division per row).
void k_rmsnorm(const float* x, size_t x_stride, size_t rows, size_t d, const float* w, float eps, float* y,
               size_t y_stride) noexcept {
  if ((d % VW) == 0) {
    const vf dv = vset1(static_cast<float>(d)), epsv = vset1(eps), one = vset1(1.0f);
    for (size_t t0 = 0; t0 < rows; t0 += VW) {
      const size_t nr = rows - t0 < size_t(VW) ? rows - t0 : size_t(VW);
      vf ss = one;
      for (size_t r = 0; r < nr; ++r) {
        const float* xr = x + (t0 + r) * x_stride;
        vf acc = vload(xr) * vload(xr);
        for (size_t i = VW; i < d; i += VW)
          acc += vload(xr + i) * vload(xr + i);
        ss[r] = vhsum(acc);
      }
      float inv[VW];
      vstore(inv, one / vsqrt(ss / dv + epsv));
      for (size_t r = 0; r < nr; ++r) {
        const float* xr = x + (t0 + r) * x_stride;
        float* yr = y + (t0 + r) * y_stride;
        const vf iv = vset1(inv[r]);
        for (size_t i = 0; i < d; i += VW)
          vstore(yr + i, vload(xr + i) * iv * vload(w + i));
      }
    }
    return;
  }
  for (size_t t = 0; t < rows; ++t) {
    const float* xr = x + t * x_stride;
    float* yr = y + t * y_stride;
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
      for (int j = 0; j < 4; ++j)
        s[j] += xr[i + j] * xr[i + j];
    }
    for (; i < d; ++i)
      s[0] += xr[i] * xr[i];
    const float ms = ((s[0] + s[1]) + (s[2] + s[3])) / static_cast<float>(d);
    const float inv = 1.0f / __builtin_sqrtf(ms + eps);
    for (size_t c = 0; c < d; ++c)
      yr[c] = xr[c] * inv * w[c];
  }
}

// ---- gated RMSNorm (Mamba-2) ---------------------------------------------------
void k_gated_rmsnorm(float* y, const float* sz, size_t y_stride, size_t rows, size_t d, size_t groups, const float* w,
                     float eps) noexcept {
  const size_t gs = d / groups;
  const bool vec = (gs % VW) == 0;
  for (size_t t = 0; t < rows; ++t) {
    float* yr = y + t * y_stride;
    const float* zr = sz + t * y_stride;
    for (size_t g = 0; g < groups; ++g) {
      float* yg = yr + g * gs;
      const float* zg = zr + g * gs;
      const float* wg = w + g * gs;
      float ss = 0.0f;
      if (vec) {
        vf acc{};
        for (size_t i = 0; i < gs; i += VW) {
          const vf v = vload(yg + i) * vload(zg + i);
          vstore(yg + i, v);
          acc += v * v;
        }
        for (int l = 0; l < VW; ++l)
          ss += acc[l];
      } else {
        for (size_t i = 0; i < gs; ++i) {
          yg[i] *= zg[i];
          ss += yg[i] * yg[i];
        }
      }
      const float inv = 1.0f / __builtin_sqrtf(ss / static_cast<float>(gs) + eps);
      if (vec) {
        const vf iv = vset1(inv);
        for (size_t i = 0; i < gs; i += VW)
          vstore(yg + i, vload(yg + i) * iv * vload(wg + i));
      } else {
        for (size_t i = 0; i < gs; ++i)
          yg[i] = yg[i] * inv * wg[i];
      }
    }
  }
}

// ---- elementwise -------------------------------------------------------------
void k_exp(const float* x, float* y, size_t n) noexcept {
  size_t i = 0;
  for (; i + VW <= n; i += VW)
    vstore(y + i, vexp(vload(x + i)));
  for (; i < n; ++i)
    y[i] = sexp(x[i]);
}

void k_silu(const float* x, float* y, size_t n) noexcept {
  size_t i = 0;
  for (; i + VW <= n; i += VW)
    vstore(y + i, vsilu(vload(x + i)));
  for (; i < n; ++i)
    y[i] = ssilu(x[i]);
}

void k_softplus(const float* x, float* y, size_t n) noexcept {
  size_t i = 0;
  for (; i + VW <= n; i += VW)
    vstore(y + i, vsoftplus(vload(x + i)));
  for (; i < n; ++i)
    y[i] = ssoftplus(x[i]);
}

// ---- Mamba-2 step sizes -------------------------------------------------------
// Works on the compact [T, H] sequence (the raw rows are padded to h_pad, and
// tiny models have 1..4 heads): a copy pass compacts, then vector softplus and
// exp run over T·H values instead of T·h_pad. A tail goes through a padded
// vector, so a value's result does not depend on where it falls.
void k_mamba2_dt(const float* raw, size_t raw_stride, size_t rows, size_t heads, const float* a, float* dt,
                 float* da) noexcept {
  const size_t n = rows * heads;
  for (size_t t = 0; t < rows; ++t)
    for (size_t h = 0; h < heads; ++h)
      dt[t * heads + h] = raw[t * raw_stride + h];
  const bool tiled = (VW % heads) == 0;  // then lane l of every vector is head l % H
  // Vectors are assembled lane by lane in registers (constant lane indices):
  // going through a small array costs a failed store-to-load forward each,
  // which a one-row call (block 1) pays on its critical path.
  size_t h = 0;  // head of the next lane
  auto fill = [&]() noexcept {
    vf v;
#pragma GCC unroll 8
    for (int l = 0; l < VW; ++l) {
      v[l] = a[h];
      if (++h == heads)
        h = 0;
    }
    return v;
  };
  vf at = fill();  // A for the lanes of the next vector
  size_t i0 = 0;
  for (; i0 + VW <= n; i0 += VW) {
    const vf sp = vsoftplus(vload(dt + i0));
    vstore(dt + i0, sp);
    vstore(da + i0, vexp(sp * at));
    if (!tiled)
      at = fill();
  }
  if (i0 < n) {
    vf xv;
#pragma GCC unroll 8
    for (int l = 0; l < VW; ++l)
      xv[l] = i0 + l < n ? dt[i0 + l] : 0.0f;
    const vf sp = vsoftplus(xv);
    const vf e = vexp(sp * at);
#pragma GCC unroll 8
    for (int l = 0; l < VW; ++l) {
      if (i0 + l < n)
        dt[i0 + l] = sp[l], da[i0 + l] = e[l];
    }
  }
}

// ---- peak-rate probe -----------------------------------------------------------
double k_flop_probe(size_t iterations, float* sink) noexcept {
  constexpr int kAcc = 12;  // > FMA latency × ports: the units never wait
  vf acc[kAcc];
  for (int i = 0; i < kAcc; ++i)
    acc[i] = vset1(0.001f * float(i));
  const vf m = vset1(0.999999f), c = vset1(1e-7f);
  for (size_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i)
      acc[i] = acc[i] * m + c;
  }
  vf s{};
  for (int i = 0; i < kAcc; ++i)
    s += acc[i];
  float out = 0;
  for (int i = 0; i < VW; ++i)
    out += s[i];
  *sink = out;
  return double(iterations) * kAcc * VW * 2;
}

}  // namespace
