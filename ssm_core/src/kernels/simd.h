// SPDX-License-Identifier: GPL-3.0-or-later
//
// Portable float vectors (8 lanes with AVX, 4 with SSE2) (GCC/Clang vector extensions) and the
// vectorised transcendental functions of the engine. Included ONLY by the
// per-ISA kernel translation units, inside an anonymous namespace, so that the
// same source compiles to SSE2 code in one object and AVX2+FMA code in another
// without any symbol shared between them (no ODR hazard). Nothing from the
// standard library is used here for the same reason.
#pragma once

#include <cstddef>
#include <cstdint>
#if defined(__AVX__)
#include <immintrin.h>
#else
#include <emmintrin.h>
#endif

namespace {

// Native width: 8 floats with AVX, 4 with SSE2. (A 32-byte vector type on a
// target without AVX is kept in memory by GCC, which is far slower.)
#if defined(__AVX__)
constexpr int VW = 8;
typedef float vf __attribute__((vector_size(32)));
typedef std::int32_t vi __attribute__((vector_size(32)));
#else
constexpr int VW = 4;
typedef float vf __attribute__((vector_size(16)));
typedef std::int32_t vi __attribute__((vector_size(16)));
#endif

inline vf vload(const float* p) noexcept {
  vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void vstore(float* p, vf v) noexcept {
  __builtin_memcpy(p, &v, sizeof v);
}
// Broadcast. (Not `vf{} + x`: adding +0.0 is not an identity for -0.0, so the
// compiler keeps a scalar add in front of every broadcast.) The intrinsics
// are always-inline and emit no symbol, so they are safe in both objects.
inline vf vset1(float x) noexcept {
#if defined(__AVX__)
  return (vf)_mm256_set1_ps(x);
#else
  return (vf)_mm_set1_ps(x);
#endif
}

// Lane-wise square root (correctly rounded, like sqrtf).
inline vf vsqrt(vf x) noexcept {
#if defined(__AVX__)
  return (vf)_mm256_sqrt_ps((__m256)x);
#else
  return (vf)_mm_sqrt_ps((__m128)x);
#endif
}

// Sum of the lanes, pairwise (lanes i and i + VW/2 first).
inline float vhsum(vf v) noexcept {
#if defined(__AVX__)
  v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
  v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
  v += __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
#else
  v += __builtin_shufflevector(v, v, 2, 3, 0, 1);
  v += __builtin_shufflevector(v, v, 1, 0, 3, 2);
#endif
  return v[0];
}

inline vf vmin(vf a, vf b) noexcept {
  return a < b ? a : b;
}
inline vf vmax(vf a, vf b) noexcept {
  return a > b ? a : b;
}

// exp(x), Cephes-style range reduction x = n·ln2 + r with a degree-5
// polynomial for exp(r); |rel err| < 2 ulp on [-87.3, 88.3]. Inputs are
// clamped to that range (the result saturates to ~1e-38 and ~2e38 outside it,
// never a denormal nor an infinity). ref: Cephes expf.c (S. Moshier).
constexpr float kExpHi = 88.3762626647949f;
constexpr float kExpLo = -87.3365447504f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kRoundMagic = 12582912.0f;  // 1.5·2²³: adding it rounds to an integer

// exp(r) for |r| ≤ ln2/2, shared by the vector and scalar versions.
template <class T>
inline T exp_poly(T r) noexcept {
  const T z = r * r;
  T p = r * 1.9875691500E-4f + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  return p * z + r + 1.0f;
}

inline vf vexp(vf x) noexcept {
  x = vmin(vmax(x, vset1(kExpLo)), vset1(kExpHi));
  vf n = (x * kLog2e + kRoundMagic) - kRoundMagic;  // round to nearest
  vf r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  const vf p = exp_poly(r);
  vi e = (__builtin_convertvector(n, vi) + 127) << 23;
  return p * (vf)e;
}

inline float sexp(float x) noexcept {
  x = x < kExpLo ? kExpLo : (x > kExpHi ? kExpHi : x);
  float n = (x * kLog2e + kRoundMagic) - kRoundMagic;
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  const float p = exp_poly(r);
  std::int32_t e = (static_cast<std::int32_t>(n) + 127) << 23;
  float s;
  __builtin_memcpy(&s, &e, sizeof s);
  return p * s;
}

// log(x) for positive normal x (here x ≥ 1). ref: Cephes logf.c.
constexpr float kSqrtHalf = 0.707106781186547524f;

// log(1 + m)·… : the polynomial and exponent terms of Cephes logf, for
// m = mantissa − 1 in [√½ − 1, √2 − 1) and exponent ef; shared by both versions.
template <class T>
inline T log_finish(T m, T ef) noexcept {
  const T z = m * m;
  T y = m * 7.0376836292E-2f - 1.1514610310E-1f;
  y = y * m + 1.1676998740E-1f;
  y = y * m - 1.2420140846E-1f;
  y = y * m + 1.4249322787E-1f;
  y = y * m - 1.6668057665E-1f;
  y = y * m + 2.0000714765E-1f;
  y = y * m - 2.4999993993E-1f;
  y = y * m + 3.3333331174E-1f;
  y = y * m * z;
  y = y + ef * kLn2Lo;
  y = y - z * 0.5f;
  return m + y + ef * kLn2Hi;
}

inline vf vlog(vf x) noexcept {
  vi xi = (vi)x;
  vi e = ((xi >> 23) & 0xff) - 126;
  vf m = (vf)((xi & 0x807fffff) | 0x3f000000);  // mantissa in [0.5, 1)
  vi small = m < kSqrtHalf;                     // -1 where true
  e = e + small;
  m = (m < kSqrtHalf) ? (m + m - 1.0f) : (m - 1.0f);
  return log_finish(m, __builtin_convertvector(e, vf));
}

inline float slog(float x) noexcept {
  std::int32_t xi;
  __builtin_memcpy(&xi, &x, sizeof xi);
  std::int32_t e = ((xi >> 23) & 0xff) - 126;
  std::int32_t mi = (xi & 0x807fffff) | 0x3f000000;
  float m;
  __builtin_memcpy(&m, &mi, sizeof m);
  if (m < kSqrtHalf) {
    e -= 1;
    m = m + m - 1.0f;
  } else {
    m = m - 1.0f;
  }
  return log_finish(m, static_cast<float>(e));
}

// softplus(x) = log(1 + exp(x)), x for x > 20 (torch.nn.functional.softplus,
// threshold 20). log1p(e) is computed as log(u)·e/(u−1), u = 1+e, which keeps
// full relative precision for tiny e (Goldberg's log1p trick).
inline vf vsoftplus(vf x) noexcept {
  vf e = vexp(x);
  vf u = e + 1.0f;
  vf d = u - 1.0f;
  vf l = vlog(u);
  vf safe_d = (d == 0.0f) ? vset1(1.0f) : d;
  vf lp = (d == 0.0f) ? e : l * (e / safe_d);
  return (x > 20.0f) ? x : lp;
}

inline float ssoftplus(float x) noexcept {
  if (x > 20.0f)
    return x;
  float e = sexp(x);
  float u = e + 1.0f;
  float d = u - 1.0f;
  return d == 0.0f ? e : slog(u) * (e / d);
}

inline vf vsilu(vf x) noexcept {
  return x / (vexp(-x) + 1.0f);
}
inline float ssilu(float x) noexcept {
  return x / (sexp(-x) + 1.0f);
}

}  // namespace
