// SPDX-License-Identifier: GPL-3.0-or-later
//
// Portable 8-wide float vectors (GCC/Clang vector extensions) and the
// vectorised transcendental functions of the engine. Included ONLY by the
// per-ISA kernel translation units, inside an anonymous namespace, so that the
// same source compiles to SSE2 code in one object and AVX2+FMA code in another
// without any symbol shared between them (no ODR hazard). Nothing from the
// standard library is used here for the same reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace {

typedef float v8f __attribute__((vector_size(32)));
typedef std::int32_t v8i __attribute__((vector_size(32)));
typedef float f32;

inline v8f vload(const float* p) noexcept {
  v8f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void vstore(float* p, v8f v) noexcept { __builtin_memcpy(p, &v, sizeof v); }
inline v8f vset1(float x) noexcept { return v8f{} + x; }

inline v8f vmin(v8f a, v8f b) noexcept { return a < b ? a : b; }
inline v8f vmax(v8f a, v8f b) noexcept { return a > b ? a : b; }

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

inline v8f vexp(v8f x) noexcept {
  x = vmin(vmax(x, vset1(kExpLo)), vset1(kExpHi));
  v8f n = (x * kLog2e + kRoundMagic) - kRoundMagic;  // round to nearest
  v8f r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  v8f z = r * r;
  v8f p = vset1(1.9875691500E-4f);
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * z + r + 1.0f;
  v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
  return p * (v8f)e;
}

inline float sexp(float x) noexcept {
  x = x < kExpLo ? kExpLo : (x > kExpHi ? kExpHi : x);
  float n = (x * kLog2e + kRoundMagic) - kRoundMagic;
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float z = r * r;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * z + r + 1.0f;
  std::int32_t e = (static_cast<std::int32_t>(n) + 127) << 23;
  float s;
  __builtin_memcpy(&s, &e, sizeof s);
  return p * s;
}

// log(x) for positive normal x (here x ≥ 1). ref: Cephes logf.c.
constexpr float kSqrtHalf = 0.707106781186547524f;

inline v8f vlog(v8f x) noexcept {
  v8i xi = (v8i)x;
  v8i e = ((xi >> 23) & 0xff) - 126;
  v8f m = (v8f)((xi & 0x807fffff) | 0x3f000000);  // mantissa in [0.5, 1)
  v8i small = m < kSqrtHalf;                      // -1 where true
  e = e + small;
  m = (m < kSqrtHalf) ? (m + m - 1.0f) : (m - 1.0f);
  v8f ef = __builtin_convertvector(e, v8f);
  v8f z = m * m;
  v8f y = vset1(7.0376836292E-2f);
  y = y * m - 1.1514610310E-1f;
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
  float ef = static_cast<float>(e);
  float z = m * m;
  float y = 7.0376836292E-2f;
  y = y * m - 1.1514610310E-1f;
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

// softplus(x) = log(1 + exp(x)), x for x > 20 (torch.nn.functional.softplus,
// threshold 20). log1p(e) is computed as log(u)·e/(u−1), u = 1+e, which keeps
// full relative precision for tiny e (Goldberg's log1p trick).
inline v8f vsoftplus(v8f x) noexcept {
  v8f e = vexp(x);
  v8f u = e + 1.0f;
  v8f d = u - 1.0f;
  v8f l = vlog(u);
  v8f safe_d = (d == 0.0f) ? vset1(1.0f) : d;
  v8f lp = (d == 0.0f) ? e : l * (e / safe_d);
  return (x > 20.0f) ? x : lp;
}

inline float ssoftplus(float x) noexcept {
  if (x > 20.0f) return x;
  float e = sexp(x);
  float u = e + 1.0f;
  float d = u - 1.0f;
  return d == 0.0f ? e : slog(u) * (e / d);
}

inline v8f vsilu(v8f x) noexcept { return x / (vexp(-x) + 1.0f); }
inline float ssilu(float x) noexcept { return x / (sexp(-x) + 1.0f); }

}  // namespace
