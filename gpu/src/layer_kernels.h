// SPDX-License-Identifier: GPL-3.0-or-later
// The per-layer kernels of the CUDA backend (internal): everything of a
// Mamba block except the scan, for many rows (streams) × T samples at once.
//
// ref: the CPU engine, ssm_core/src/stream.cpp (process_chunk, mamba1_layer,
// mamba2_layer) and ssm_core/src/reference_model.cpp, which these follow
// step for step; the CPU engine is their reference in the parity tests.
//
// Activations are [rows, channels, W] (time last, row stride W = the
// engine's window) so that a thread per (row, t) reads and writes coalesced.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace sw::gpu {

// Device views of one layer's weights, in PyTorch layout (row-major [out, in]).
struct DevLayer {
  const float* norm_w = nullptr;   // [D]
  const float* in_w = nullptr;     // [rows, D]
  const float* in_b = nullptr;     // [rows] or nullptr
  const float* conv_w = nullptr;   // [conv, K]
  const float* conv_b = nullptr;   // [conv]
  const float* x_w = nullptr;      // m1: [R + 2N, E]
  const float* dt_w = nullptr;     // m1: [E, R]
  const float* dt_b = nullptr;     // m1: [E]
  const float* dt_bias = nullptr;  // m2: [H]
  const float* A = nullptr;        // m1: [E, N]; m2: [H]; = -exp(A_log)
  const float* D = nullptr;        // m1: [E]; m2: [H] or [E]
  const float* gnw = nullptr;      // m2: [E]
  const float* out_w = nullptr;    // [D, E]
  const float* out_b = nullptr;    // [D] or nullptr
};

// Shapes and the head, by value into every kernel.
struct DevModel {
  int mamba2 = 0, D = 0, E = 0, N = 0, K = 0, R = 0, H = 0, P = 0, G = 1, conv = 0, rows = 0;
  int ci = 1, co = 1, has_head = 1, has_skip = 0, d_per_channel = 0;
  float eps = 1e-5f, gate_eps = 1e-5f;
  const float* norm_f = nullptr;  // [D]
  const float* in_w = nullptr;    // [D, ci]
  const float* in_b = nullptr;    // [D]
  const float* out_w = nullptr;   // [co, D]
  const float* out_b = nullptr;   // [co]
  const float* skip_w = nullptr;  // [co, ci] or nullptr
};

// Device activations and I/O for one call.
struct DevBuffers {
  std::size_t W = 0;          // window: row stride of every [rows, C, W] buffer
  std::size_t Wk = 0;         // W + K - 1: row stride of xc
  const float* in = nullptr;  // [rows, W, ci] (interleaved per row, as the host gives it)
  float* out = nullptr;       // [rows, W, co]
  float* r = nullptr;         // [rows, D, W] residual stream
  float* xc = nullptr;        // [rows, conv, Wk] conv input: K-1 history columns, then T samples
  float* u = nullptr;         // [rows, conv, W] conv output (m2: x, B, C rows)
  float* z = nullptr;         // [rows, E, W]
  float* dt = nullptr;        // [rows, E (m1) or H (m2), W]
  float* bm = nullptr;        // m1: [rows, N, W]
  float* cm = nullptr;        // m1: [rows, N, W]
  float* y = nullptr;         // [rows, E, W]
};

// One layer's recurrent state for every row.
struct DevLayerState {
  float* hist = nullptr;  // [rows, conv, K-1] the last K-1 conv inputs, oldest first
  float* h = nullptr;     // [rows, E, N] (m2: E = H·P, channel h·P + p)
};

// The widest per-thread staging column the kernels need, in floats; a
// model wider than kMaxColumn is refused by the engine.
int staging_floats(const DevModel& m);
constexpr int kMaxColumn = 192;

// Enqueue on `stream`; rows × T samples. Return the launch error.
cudaError_t launch_input(const DevModel& m, const DevBuffers& b, int rows, int T, cudaStream_t stream);
cudaError_t launch_pre(const DevModel& m, const DevLayer& l, const DevLayerState& s, const DevBuffers& b, int rows,
                       int T, cudaStream_t stream);
cudaError_t launch_conv(const DevModel& m, const DevLayer& l, const DevLayerState& s, const DevBuffers& b, int rows,
                        int T, cudaStream_t stream);
cudaError_t launch_post(const DevModel& m, const DevLayer& l, const DevBuffers& b, int rows, int T,
                        cudaStream_t stream);
cudaError_t launch_head(const DevModel& m, const DevBuffers& b, int rows, int T, cudaStream_t stream);

}  // namespace sw::gpu
