// SPDX-License-Identifier: GPL-3.0-or-later
//
// The LSTM baseline's kernel, compiled twice (bench/CMakeLists.txt): for the
// baseline ISA (SSE2, 4 lanes) and with -mavx2 -mfma (8 lanes), each object
// exporting only its SW_LSTM_KERNEL() table, chosen at run time by
// LstmRunner::prepare. The vector types come from the engine's simd.h (GCC
// vector extensions, anonymous namespace: no symbol shared between objects).
#include "lstm_kernels.h"
#include "simd.h"

#if !defined(SW_LSTM_KERNEL) || !defined(SW_LSTM_ISA)
#error "compile with SW_LSTM_KERNEL=<function name> and SW_LSTM_ISA=\"<isa>\""
#endif

namespace {

using sw::bench::detail::LstmArgs;

// min/max as single instructions (the `a < b ? a : b` of simd.h becomes a
// compare and a blend here, which lengthens the recurrence's critical path).
inline vf fmin(vf a, vf b) noexcept {
#if defined(__AVX__)
  return (vf)_mm256_min_ps((__m256)a, (__m256)b);
#else
  return (vf)_mm_min_ps((__m128)a, (__m128)b);
#endif
}
inline vf fmax(vf a, vf b) noexcept {
#if defined(__AVX__)
  return (vf)_mm256_max_ps((__m256)a, (__m256)b);
#else
  return (vf)_mm_max_ps((__m128)a, (__m128)b);
#endif
}

// tanh(x) as a [13/6] rational function of x, clamped where it rounds to ±1.
// ref: Eigen 3.4, Eigen/src/Core/MathFunctionsImpl.h, generic_fast_tanh_float
// (the vectorised tanh of Eigen, and so of RTNeural's Eigen backend), less its
// |x| < 4e-4 → x branch: there p/q = x·(α1/β0)·(1 + O(x²)), α1/β0 = 1 − 1.3e-7.
// Max error against tanh in double: tests/test_lstm_baseline.cpp.
inline vf vtanh(vf x) noexcept {
#if defined(__FMA__)
  constexpr float kClamp = 7.99881172180175781f;
#else
  constexpr float kClamp = 7.90531110763549805f;
#endif
  x = fmin(fmax(x, vset1(-kClamp)), vset1(kClamp));
  const vf x2 = x * x;
  vf p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  vf q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

inline float hsum(vf v) noexcept {
  float t[VW];
  vstore(t, v);
  float s = 0;
  for (int i = 0; i < VW; ++i)
    s += t[i];
  return s;
}

// Gate pre-activations of groups q0 .. q0+NG-1 for one time step:
// z = W_ih·x + b + W_hh·h, with 4·NG·KS accumulators in registers (the columns
// k split KS ways so that 8 independent multiply-add chains cover the FMA
// latency × ports) and one broadcast of h[k] per column.
template <int NG, int KS>
inline void lstm_gates(const LstmArgs& a, int q0, vf xb, const float* hp) noexcept {
  const int H = a.hidden;
  vf acc[KS][NG][4];
  const float* w[NG];
  for (int g = 0; g < NG; ++g) {
    const float* wb = a.w_ih_b + (q0 + g) * 8 * VW;
    for (int j = 0; j < 4; ++j) {
      acc[0][g][j] = vload(wb + (4 + j) * VW) + xb * vload(wb + j * VW);
      for (int s = 1; s < KS; ++s)
        acc[s][g][j] = vf{};
    }
    w[g] = a.w_hh + static_cast<long>(q0 + g) * H * 4 * VW;
  }
  int k = 0;
  for (; k + KS <= H; k += KS) {
    for (int s = 0; s < KS; ++s) {
      const vf hb = vset1(hp[k + s]);
      for (int g = 0; g < NG; ++g)
        for (int j = 0; j < 4; ++j)
          acc[s][g][j] += hb * vload(w[g] + (4 * (k + s) + j) * VW);
    }
  }
  for (; k < H; ++k) {
    const vf hb = vset1(hp[k]);
    for (int g = 0; g < NG; ++g)
      for (int j = 0; j < 4; ++j)
        acc[0][g][j] += hb * vload(w[g] + (4 * k + j) * VW);
  }
  for (int g = 0; g < NG; ++g) {
    for (int j = 0; j < 4; ++j) {
      vf z = acc[0][g][j];
      for (int s = 1; s < KS; ++s)
        z += acc[s][g][j];
      vstore(a.z + ((q0 + g) * 4 + j) * VW, z);
    }
  }
}

// One time step: all gate pre-activations first (two groups per pass where
// possible: 8 chains, one broadcast per 8 multiply-adds; a last single group
// splits its columns in two for the same 8 chains), then every group's
// activations and cell update. ref: torch.nn.LSTM (gate order i, f, g, o).
inline float lstm_step(const LstmArgs& a, float x, const float* hp, float* hn) noexcept {
  const vf xb = vset1(x);
  int q = 0;
  for (; q + 2 <= a.groups; q += 2)
    lstm_gates<2, 1>(a, q, xb, hp);
  if (q < a.groups)
    lstm_gates<1, 2>(a, q, xb, hp);
  const vf half = vset1(0.5f);
  vf yacc{};
  for (q = 0; q < a.groups; ++q) {
    const float* z = a.z + q * 4 * VW;
    const int u = q * VW;
    const vf i = vtanh(vload(z)) * half + half;  // σ(z) = ½ + ½·tanh(z/2); z/2 is in the weights
    const vf f = vtanh(vload(z + VW)) * half + half;
    const vf g = vtanh(vload(z + 2 * VW));
    const vf o = vtanh(vload(z + 3 * VW)) * half + half;
    const vf c = f * vload(a.c + u) + i * g;
    vstore(a.c + u, c);
    const vf h = o * vtanh(c);
    vstore(hn + u, h);
    yacc += h * vload(a.head + u);
  }
  return hsum(yacc) + a.head_b + a.skip * x;
}

int lstm_process(const LstmArgs& a, int cur, const float* in, float* out, int n) noexcept {
  const int stride = a.h_stride;
  for (int t = 0; t < n; ++t) {
    out[t] = lstm_step(a, in[t], a.h + cur * stride, a.h + (cur ^ 1) * stride);
    cur ^= 1;
  }
  return cur;
}

void lstm_tanh(const float* x, float* y, int n) noexcept {
  int i = 0;
  for (; i + VW <= n; i += VW)
    vstore(y + i, vtanh(vload(x + i)));
  if (i < n) {
    float t[VW] = {};
    for (int j = 0; i + j < n; ++j)
      t[j] = x[i + j];
    vstore(t, vtanh(vload(t)));
    for (int j = 0; i + j < n; ++j)
      y[i + j] = t[j];
  }
}

}  // namespace

namespace sw::bench::detail {

const LstmKernel& SW_LSTM_KERNEL() noexcept {
  static const LstmKernel k{SW_LSTM_ISA, VW, &lstm_process, &lstm_tanh};
  return k;
}

}  // namespace sw::bench::detail
