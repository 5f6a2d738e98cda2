// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The hot kernels of the engine, behind a table of function pointers chosen
// once at prepare time (runtime ISA dispatch). Every kernel has a scalar
// reference in `reference_kernels()` with the same signature; tests compare
// each ISA's table against it (tests/test_kernels.cpp).
//
// Layout conventions: activations are time-major rows [T, C] with a row
// stride (in floats). "pad" widths are multiples of kVectorWidth; packed
// weights and states are zero-padded to them. All kernels are SW_REALTIME:
// no allocation, no locks, no exceptions.

#include <cstddef>

#include "sidewinder/realtime.h"

namespace sw::ssm {

constexpr std::size_t kVectorWidth = 8;  // floats per SIMD lane group (AVX2)

constexpr std::size_t pad_to_vector(std::size_t n) noexcept {
  return (n + kVectorWidth - 1) / kVectorWidth * kVectorWidth;
}

// y[t, n] = bias[n] + Σ_k x[t, k] · wt[k, n]   (accumulate: y[t, n] += that)
//   x:  [T, K] stride x_stride      wt: [K, n_pad] (PyTorch W transposed, zero-padded)
//   bias: [n_pad] or nullptr        y:  [T, n_pad] stride y_stride
// ref: torch.nn.functional.linear
struct LinearArgs {
  const float* x;
  std::size_t x_stride;
  std::size_t rows;  // T
  std::size_t k;     // K (real input width)
  const float* wt;
  const float* bias;
  std::size_t n_pad;
  float* y;
  std::size_t y_stride;
  bool accumulate;
};

// Causal depthwise conv + SiLU over a block with its history prepended.
//   xc: [K-1+T, c_pad] stride stride (rows 0..K-2 are the previous block's tail)
//   w:  [K, c_pad] (conv1d.weight [C, 1, K] transposed)   b: [c_pad]
//   u:  [T, c_pad] stride stride;  u[t, c] = SiLU(b[c] + Σ_j w[j, c] · xc[t + j, c])
// ref: mamba_ssm/modules/mamba_simple.py Mamba.step (causal_conv1d_update)
struct ConvArgs {
  const float* xc;
  std::size_t stride;
  std::size_t rows;   // T
  std::size_t width;  // K
  const float* w;
  const float* b;
  std::size_t c_pad;
  float* u;
};

// Mamba-1 selective scan over T steps, state carried in h.
//   dt: [T, e_pad] (already softplus'ed)   u: [T, e_pad]   sz: [T, e_pad] = SiLU(z)
//   b, c: [T, N] stride bc_stride          a_t: [N, e_pad] = -exp(A_log)ᵀ
//   d: [e_pad]    h: [N, e_pad] (fp32 state)    y: [T, e_pad]
//   h ← exp(dt·A) ⊙ h + (dt·u) ⊗ B ;  y = (h·C + D ⊙ u) ⊙ SiLU(z)
// ref: mamba_ssm/ops/selective_scan_interface.py selective_scan_ref
struct Mamba1ScanArgs {
  std::size_t rows;   // T
  std::size_t e_pad;  // padded d_inner (all [*, e_pad] buffers share `stride`)
  std::size_t n;      // d_state
  std::size_t stride;
  const float* dt;
  const float* u;
  const float* sz;
  const float* b;
  const float* c;
  std::size_t bc_stride;
  const float* a_t;
  const float* d;
  float* h;
  float* y;
};

// Mamba-2 scan (one scalar A per head), ungated output.
//   x: [T, H·P] stride x_stride (B = x + b_offset, C = x + c_offset, [G, N] each)
//   dt, da: [T, h_pad] stride dt_stride (softplus'ed dt and exp(dt·A))
//   d: [H] or [H·P] (d_per_channel)   h: [H, N, p_pad]   y: [T, H·P] stride y_stride
//   s[h,p,n] ← dA_h·s + dt_h·x[h,p]·B[g,n] ;  y[h,p] = Σ_n s·C[g,n] + D·x[h,p]
// ref: mamba_ssm/ops/triton/selective_state_update.py selective_state_update_ref
struct Mamba2ScanArgs {
  std::size_t rows;  // T
  std::size_t heads, head_dim, p_pad, n, groups;
  const float* x;
  std::size_t x_stride;
  std::size_t b_offset, c_offset;
  const float* dt;
  const float* da;
  std::size_t dt_stride;
  const float* d;
  bool d_per_channel;
  float* h;
  float* y;
  std::size_t y_stride;
};

struct KernelTable {
  const char* isa;  // "reference", "baseline" or "avx2"
  void (*linear)(const LinearArgs&) noexcept;
  void (*conv_silu)(const ConvArgs&) noexcept;
  void (*mamba1_scan)(const Mamba1ScanArgs&) noexcept;
  void (*mamba2_scan)(const Mamba2ScanArgs&) noexcept;
  // y = x / sqrt(mean(x[0..d)²) + eps) · w  per row; x, y: [T, *] strides; w: [d]
  void (*rmsnorm)(const float* x, std::size_t x_stride, std::size_t rows, std::size_t d, const float* w, float eps,
                  float* y, std::size_t y_stride) noexcept;
  // Mamba-2 gated RMSNorm (norm_before_gate=False), in place, per row and per
  // group of d/groups channels: y = y⊙sz / sqrt(mean((y⊙sz)²) + eps) · w.
  //   y: [T, *] stride y_stride; sz = SiLU(z): [T, *] stride y_stride; w: [d]
  // ref: mamba_ssm/ops/triton/layernorm_gated.py rms_norm_ref (group_size)
  void (*gated_rmsnorm)(float* y, const float* sz, std::size_t y_stride, std::size_t rows, std::size_t d,
                        std::size_t groups, const float* w, float eps) noexcept;
  // Mamba-2 step sizes, written compact: dt[t·H + h] = softplus(raw[t, h]) and
  // da[t·H + h] = exp(dt[t·H + h] · a[h]).
  //   raw: [T, *] stride raw_stride (dt_bias already added)   a: [H] = -exp(A_log)
  //   dt, da: [T, H]
  // ref: mamba_ssm/modules/mamba2.py Mamba2.step (dt = softplus(dt + dt_bias); dA = exp(dt * A))
  void (*mamba2_dt)(const float* raw, std::size_t raw_stride, std::size_t rows, std::size_t heads, const float* a,
                    float* dt, float* da) noexcept;
  // Elementwise over n contiguous floats (in place allowed).
  void (*exp)(const float* x, float* y, std::size_t n) noexcept;
  void (*silu)(const float* x, float* y, std::size_t n) noexcept;
  void (*softplus)(const float* x, float* y, std::size_t n) noexcept;  // x if x > 20
  // Peak-rate probe for benchmarks: `iterations` rounds of independent
  // multiply-adds on 12 vector accumulators; returns the FLOPs performed and
  // stores a checksum in *sink so nothing is optimised away.
  double (*flop_probe)(std::size_t iterations, float* sink) noexcept;
};

// The obvious scalar implementations (std::exp, plain loops).
const KernelTable& reference_kernels() noexcept;
// Baseline x86-64 (SSE2) build of the optimised kernels.
const KernelTable& baseline_kernels() noexcept;
// AVX2+FMA build, or nullptr if not compiled in or the CPU lacks AVX2/FMA.
const KernelTable* avx2_kernels() noexcept;
// The best table this CPU runs (SIDEWINDER_ISA=baseline|avx2|reference overrides).
const KernelTable& best_kernels() noexcept;

}  // namespace sw::ssm
