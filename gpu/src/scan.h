// SPDX-License-Identifier: GPL-3.0-or-later
// The selective scans of the CUDA backend (internal: CUDA code only).
//
// Shapes are [batch, channels, ld] row-major, time last so that a warp reads
// consecutive samples; `ld` ≥ T is the stride between time rows (the engine's
// window), so a call may scan fewer samples than its buffers hold.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace sw::gpu {

// ref: mamba_ssm/ops/selective_scan_interface.py selective_scan_ref
//   h[e,n](t) = exp(dt[e,t]·A[e,n])·h[e,n](t-1) + dt[e,t]·B[n,t]·u[e,t]
//   y[e,t]    = (Σ_n h[e,n](t)·C[n,t] + D[e]·u[e,t]) · silu(z[e,t])   (no gate if z == nullptr)
struct Mamba1Scan {
  int batch = 0, T = 0, E = 0, N = 0;
  std::size_t ld = 0;
  const float* u = nullptr;   // [batch, E, ld]
  const float* dt = nullptr;  // [batch, E, ld] (after softplus)
  const float* z = nullptr;   // [batch, E, ld] or nullptr
  const float* B = nullptr;   // [batch, N, ld]
  const float* C = nullptr;   // [batch, N, ld]
  const float* A = nullptr;   // [E, N] = -exp(A_log)
  const float* D = nullptr;   // [E]
  float* h = nullptr;         // [batch, E, N]: the initial state in, the final state out
  float* y = nullptr;         // [batch, E, ld]
};

// ref: mamba_ssm/modules/mamba2.py (ssd_minimal / selective_state_update):
// one scalar decay per head,
//   h[h,p,n](t) = exp(dt[h,t]·A[h])·h[h,p,n](t-1) + dt[h,t]·x[hP+p,t]·B[g(h)N+n,t]
//   y[hP+p,t]   = Σ_n h[h,p,n](t)·C[g(h)N+n,t] + D·x[hP+p,t]      (D = D[h], or D[hP+p] if d_per_channel)
// x, B and C are rows of one buffer in the engine (the conv output), hence
// their own batch strides.
struct Mamba2Scan {
  int batch = 0, T = 0, H = 0, P = 0, N = 0, G = 1;
  std::size_t ld = 0;
  const float* x = nullptr;  // x[b, c, t] at x[b·x_batch + c·ld + t], c < H·P
  std::size_t x_batch = 0;
  const float* B = nullptr;  // B[b, gN+n, t] at B[b·bc_batch + (gN+n)·ld + t]; C likewise
  const float* C = nullptr;
  std::size_t bc_batch = 0;
  const float* dt = nullptr;  // [batch, H, ld] (after softplus and dt_bias)
  const float* A = nullptr;   // [H] = -exp(A_log)
  const float* D = nullptr;   // [H] or [H·P]
  bool d_per_channel = false;
  float* h = nullptr;  // [batch, H·P, N]: the initial state in, the final state out
  float* y = nullptr;  // [batch, H·P, ld]
};

// Scratch each scan needs (device memory, any alignment from cudaMalloc).
std::size_t mamba1_scan_work_bytes(const Mamba1Scan& s, int sms);
std::size_t mamba2_scan_work_bytes(const Mamba2Scan& s);
// The shared memory a Mamba-2 scan block needs; > mamba2_scan_max_smem() is refused.
std::size_t mamba2_scan_smem_bytes(int P, int N);
std::size_t mamba2_scan_max_smem();

// Once per (P, N) before mamba2_scan (and before any graph capture): allows
// the kernel its shared memory. Not stream-ordered.
cudaError_t mamba2_scan_prepare(int P, int N);

// Enqueue on `stream` (capturable into a CUDA graph). Return the launch error.
cudaError_t mamba1_scan(const Mamba1Scan& s, void* work, int sms, cudaStream_t stream);
cudaError_t mamba2_scan(const Mamba2Scan& s, void* work, cudaStream_t stream);

}  // namespace sw::gpu
