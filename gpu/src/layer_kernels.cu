// SPDX-License-Identifier: GPL-3.0-or-later
// The per-layer kernels (shapes and references: layer_kernels.h). One thread
// per (row, t); each stages its vector (a normed row, a conv output, y) in its
// own shared-memory column col[c·kBlock + tid], so no thread waits for another.
// Accurate expf/sqrtf (no fast math): these kernels are compared with the CPU
// engine, and they are not where the time goes.
#include <algorithm>

#include "layer_kernels.h"

namespace sw::gpu {

namespace {

constexpr int kBlock = 64;

__device__ __forceinline__ float silu(float x) {
  return x / (1.0f + expf(-x));
}
__device__ __forceinline__ float softplus(float x) {
  return x > 20.0f ? x : log1pf(expf(x));
}

// r[c] of row b, time t, normed by w into col (D floats). ref: ref_rmsnorm
__device__ __forceinline__ void rmsnorm_into(const float* r, std::size_t W, int D, const float* w, float eps,
                                             float* col) {
  float ss = 0.0f;
  for (int d = 0; d < D; ++d) {
    const float v = r[d * W];
    col[d * kBlock] = v;
    ss = fmaf(v, v, ss);
  }
  const float inv = 1.0f / sqrtf(ss / float(D) + eps);
  for (int d = 0; d < D; ++d)
    col[d * kBlock] = col[d * kBlock] * inv * w[d];
}

// in [rows, W, ci] → r [rows, D, W]
__global__ void __launch_bounds__(kBlock) input_kernel(DevModel m, DevBuffers b, int T) {
  const int t = blockIdx.x * kBlock + threadIdx.x, row = blockIdx.y;
  if (t >= T)
    return;
  const std::size_t W = b.W;
  float* r = b.r + std::size_t(row) * m.D * W + t;
  if (!m.has_head) {
    const float* x = b.in + (std::size_t(row) * W + t) * m.D;
    for (int d = 0; d < m.D; ++d)
      r[d * W] = x[d];
    return;
  }
  const float* x = b.in + (std::size_t(row) * W + t) * m.ci;
  for (int d = 0; d < m.D; ++d) {
    float acc = m.in_b[d];
    for (int i = 0; i < m.ci; ++i)
      acc = fmaf(m.in_w[d * m.ci + i], x[i], acc);
    r[d * W] = acc;
  }
}

// RMSNorm + in_proj. m1 rows: (x → xc, z); m2 rows: (z, xBC → xc, dt → softplus(· + dt_bias)).
// Block column 0's first K-1 threads also copy the conv history into xc.
__global__ void __launch_bounds__(kBlock) pre_kernel(DevModel m, DevLayer l, DevLayerState s, DevBuffers b, int T) {
  extern __shared__ float smem[];
  const int t = blockIdx.x * kBlock + threadIdx.x, row = blockIdx.y;
  const int K = m.K, C = m.conv;
  const std::size_t W = b.W, Wk = b.Wk;
  float* xc = b.xc + std::size_t(row) * C * Wk;
  if (blockIdx.x == 0 && threadIdx.x < K - 1) {
    const float* hist = s.hist + std::size_t(row) * C * (K - 1);
    for (int c = 0; c < C; ++c)
      xc[c * Wk + threadIdx.x] = hist[c * (K - 1) + threadIdx.x];
  }
  if (t >= T)
    return;
  float* col = smem + threadIdx.x;
  rmsnorm_into(b.r + std::size_t(row) * m.D * W + t, W, m.D, l.norm_w, m.eps, col);
  for (int j = 0; j < m.rows; ++j) {
    const float* wj = l.in_w + std::size_t(j) * m.D;
    float acc = l.in_b ? l.in_b[j] : 0.0f;
    for (int d = 0; d < m.D; ++d)
      acc = fmaf(wj[d], col[d * kBlock], acc);
    if (!m.mamba2) {
      if (j < m.E)
        xc[j * Wk + (K - 1) + t] = acc;
      else
        b.z[(std::size_t(row) * m.E + (j - m.E)) * W + t] = acc;
    } else if (j < m.E) {
      b.z[(std::size_t(row) * m.E + j) * W + t] = acc;
    } else if (j < m.E + C) {
      xc[(j - m.E) * Wk + (K - 1) + t] = acc;
    } else {
      const int h = j - m.E - C;
      b.dt[(std::size_t(row) * m.H + h) * W + t] = softplus(acc + l.dt_bias[h]);
    }
  }
}

// Causal depthwise conv + SiLU → u; the new history; m1: x_proj and dt_proj.
// ref: ref_conv_silu, Stream::mamba1_layer
__global__ void __launch_bounds__(kBlock) conv_kernel(DevModel m, DevLayer l, DevLayerState s, DevBuffers b, int T) {
  extern __shared__ float smem[];
  const int t = blockIdx.x * kBlock + threadIdx.x, row = blockIdx.y;
  const int K = m.K, C = m.conv;
  const std::size_t W = b.W, Wk = b.Wk;
  const float* xc = b.xc + std::size_t(row) * C * Wk;
  if (blockIdx.x == 0 && threadIdx.x < K - 1) {  // history = the last K-1 inputs: xc columns T .. T+K-2
    float* hist = s.hist + std::size_t(row) * C * (K - 1);
    for (int c = 0; c < C; ++c)
      hist[c * (K - 1) + threadIdx.x] = xc[c * Wk + T + threadIdx.x];
  }
  if (t >= T)
    return;
  float* col = smem + threadIdx.x;
  float* u = b.u + std::size_t(row) * C * W + t;
  for (int c = 0; c < C; ++c) {
    float acc = l.conv_b[c];
    const float* x = xc + c * Wk + t;
    for (int k = 0; k < K; ++k)
      acc = fmaf(l.conv_w[c * K + k], x[k], acc);
    const float v = silu(acc);
    u[c * W] = v;
    if (!m.mamba2)
      col[c * kBlock] = v;
  }
  if (m.mamba2)
    return;
  // (dt_in, B, C) = x_proj(u); dt = softplus(dt_proj(dt_in) + bias)
  const int E = m.E, N = m.N, R = m.R;
  float* dtin = col + E * kBlock;  // [R]
  for (int j = 0; j < R + 2 * N; ++j) {
    const float* wj = l.x_w + std::size_t(j) * E;
    float acc = 0.0f;
    for (int e = 0; e < E; ++e)
      acc = fmaf(wj[e], col[e * kBlock], acc);
    if (j < R)
      dtin[j * kBlock] = acc;
    else if (j < R + N)
      b.bm[(std::size_t(row) * N + (j - R)) * W + t] = acc;
    else
      b.cm[(std::size_t(row) * N + (j - R - N)) * W + t] = acc;
  }
  for (int e = 0; e < E; ++e) {
    float acc = l.dt_b[e];
    for (int r = 0; r < R; ++r)
      acc = fmaf(l.dt_w[e * R + r], dtin[r * kBlock], acc);
    b.dt[(std::size_t(row) * E + e) * W + t] = softplus(acc);
  }
}

// m2: gated RMSNorm (norm_before_gate = False, one group per E/G channels);
// then r += out_proj(y). ref: ref_gated_rmsnorm, Stream::mamba2_layer
__global__ void __launch_bounds__(kBlock) post_kernel(DevModel m, DevLayer l, DevBuffers b, int T) {
  extern __shared__ float smem[];
  const int t = blockIdx.x * kBlock + threadIdx.x, row = blockIdx.y;
  if (t >= T)
    return;
  const std::size_t W = b.W;
  const int E = m.E;
  float* col = smem + threadIdx.x;
  const float* y = b.y + std::size_t(row) * E * W + t;
  for (int e = 0; e < E; ++e)
    col[e * kBlock] = y[e * W];
  if (m.mamba2) {
    const float* z = b.z + std::size_t(row) * E * W + t;
    const int gs = E / m.G;
    for (int g = 0; g < m.G; ++g) {
      float ss = 0.0f;
      for (int e = g * gs; e < (g + 1) * gs; ++e) {
        const float v = col[e * kBlock] * silu(z[e * W]);
        col[e * kBlock] = v;
        ss = fmaf(v, v, ss);
      }
      const float inv = 1.0f / sqrtf(ss / float(gs) + m.gate_eps);
      for (int e = g * gs; e < (g + 1) * gs; ++e)
        col[e * kBlock] = col[e * kBlock] * inv * l.gnw[e];
    }
  }
  float* r = b.r + std::size_t(row) * m.D * W + t;
  for (int d = 0; d < m.D; ++d) {
    const float* wd = l.out_w + std::size_t(d) * E;
    float acc = l.out_b ? l.out_b[d] : 0.0f;
    for (int e = 0; e < E; ++e)
      acc = fmaf(wd[e], col[e * kBlock], acc);
    r[d * W] += acc;
  }
}

// norm_f, then audio.out_proj (+ audio.skip of the input) → out [rows, W, co]
__global__ void __launch_bounds__(kBlock) head_kernel(DevModel m, DevBuffers b, int T) {
  extern __shared__ float smem[];
  const int t = blockIdx.x * kBlock + threadIdx.x, row = blockIdx.y;
  if (t >= T)
    return;
  const std::size_t W = b.W;
  float* col = smem + threadIdx.x;
  rmsnorm_into(b.r + std::size_t(row) * m.D * W + t, W, m.D, m.norm_f, m.eps, col);
  if (!m.has_head) {
    float* o = b.out + (std::size_t(row) * W + t) * m.D;
    for (int d = 0; d < m.D; ++d)
      o[d] = col[d * kBlock];
    return;
  }
  const float* x = b.in + (std::size_t(row) * W + t) * m.ci;
  float* o = b.out + (std::size_t(row) * W + t) * m.co;
  for (int c = 0; c < m.co; ++c) {
    float acc = m.out_b[c];
    for (int d = 0; d < m.D; ++d)
      acc = fmaf(m.out_w[c * m.D + d], col[d * kBlock], acc);
    if (m.skip_w)
      for (int i = 0; i < m.ci; ++i)
        acc = fmaf(m.skip_w[c * m.ci + i], x[i], acc);
    o[c] = acc;
  }
}

dim3 grid(int rows, int T) {
  // Column 0 always runs (its first threads move the conv history, even when T < K-1).
  return dim3{unsigned(std::max(1, (T + kBlock - 1) / kBlock)), unsigned(rows)};
}

std::size_t staging_bytes(const DevModel& m) {
  return std::size_t(staging_floats(m)) * kBlock * sizeof(float);
}

}  // namespace

int staging_floats(const DevModel& m) {
  return std::max(m.D, m.E + (m.mamba2 ? 0 : m.R));
}

cudaError_t launch_input(const DevModel& m, const DevBuffers& b, int rows, int T, cudaStream_t stream) {
  input_kernel<<<grid(rows, T), kBlock, 0, stream>>>(m, b, T);
  return cudaGetLastError();
}
cudaError_t launch_pre(const DevModel& m, const DevLayer& l, const DevLayerState& s, const DevBuffers& b, int rows,
                       int T, cudaStream_t stream) {
  pre_kernel<<<grid(rows, T), kBlock, staging_bytes(m), stream>>>(m, l, s, b, T);
  return cudaGetLastError();
}
cudaError_t launch_conv(const DevModel& m, const DevLayer& l, const DevLayerState& s, const DevBuffers& b, int rows,
                        int T, cudaStream_t stream) {
  conv_kernel<<<grid(rows, T), kBlock, staging_bytes(m), stream>>>(m, l, s, b, T);
  return cudaGetLastError();
}
cudaError_t launch_post(const DevModel& m, const DevLayer& l, const DevBuffers& b, int rows, int T,
                        cudaStream_t stream) {
  post_kernel<<<grid(rows, T), kBlock, staging_bytes(m), stream>>>(m, l, b, T);
  return cudaGetLastError();
}
cudaError_t launch_head(const DevModel& m, const DevBuffers& b, int rows, int T, cudaStream_t stream) {
  head_kernel<<<grid(rows, T), kBlock, staging_bytes(m), stream>>>(m, b, T);
  return cudaGetLastError();
}

}  // namespace sw::gpu
