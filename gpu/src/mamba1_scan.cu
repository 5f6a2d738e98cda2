// SPDX-License-Identifier: GPL-3.0-or-later
// Mamba-1 selective scan over long sequences, chunked and parallel (formula
// and shapes: scan.h).
//
// ref: state-spaces/mamba csrc/selective_scan/selective_scan_fwd_kernel.cuh —
// its design, written here from its description: time in chunks of
// kThreads·kItems held in registers; for each state index n the (decay,
// input) pairs of the chunk are scanned with cub::BlockScan under the op
// (a1·a0, a1·b0 + b1), the chunk's carry-in the running prefix of the previous
// chunk (kept per n in shared memory), seeded with (1, h0) so a stream can go
// on from a state. That kernel gives one block to each (batch, channel): an
// audio model has few channels (E ~ 16-64) and one long file, so here time
// is cut into segments as well, one block per (row, segment): pass 1 scans
// each segment from h = 0 for its aggregate (Π decay, h_end), pass 2 chains
// the aggregates into each segment's carry-in, pass 3 scans each segment
// again from its carry-in, writes y, and the last segment the final state.
// One segment (many rows, e.g. the engine's streaming step): pass 3 only.
#include <algorithm>
#include <cub/block/block_scan.cuh>

#include "scan.h"

namespace sw::gpu {

struct ScanPair {
  float a, b;  // h -> a·h + b
};

struct ScanOp {
  __device__ ScanPair operator()(const ScanPair& first, const ScanPair& second) const {
    return {second.a * first.a, second.a * first.b + second.b};
  }
};

// cub's prefix callback: hands the chunk its carry-in, keeps the aggregate.
struct Carry {
  ScanPair running;
  __device__ ScanPair operator()(ScanPair chunk_total) {
    const ScanPair before = running;
    running = ScanOp{}(running, chunk_total);
    return before;
  }
};

// One segment [t_begin, t_end) of one (batch, channel) row, from the carry-in
// seed[n] (h entering the segment). kWrite: write y; else only the segment's
// aggregate (a = Π decay, b = h at its end from h = 0), for the combine pass.
template <int kThreads, int kItems, bool kWrite>
__global__ void __launch_bounds__(kThreads)
    mamba1_segment_kernel(Mamba1Scan s, int seg_len, const float* __restrict__ seed, ScanPair* __restrict__ agg) {
  const int T = s.T, E = s.E, N = s.N;
  const std::size_t ld = s.ld;
  const float* __restrict__ u = s.u;
  const float* __restrict__ dt = s.dt;
  const float* __restrict__ A = s.A;
  const float* __restrict__ Bm = s.B;
  const float* __restrict__ D = s.D;
  const float* __restrict__ z = s.z;
  float* __restrict__ y = s.y;
  using Scan = cub::BlockScan<ScanPair, kThreads, cub::BLOCK_SCAN_WARP_SCANS>;
  __shared__ typename Scan::TempStorage scan_tmp;
  extern __shared__ float smem[];  // [N] carry b, [N] carry a
  float* carry_b = smem;
  float* carry_a = smem + N;
  constexpr int kChunk = kThreads * kItems;
  const int be = blockIdx.x, seg = blockIdx.y, segs = gridDim.y;
  const int bt = be / E, e = be % E;
  const int t_begin = seg * seg_len, t_end = min(T, t_begin + seg_len);
  const float* u_row = u + std::size_t(be) * ld;
  const float* dt_row = dt + std::size_t(be) * ld;
  const float* B_rows = Bm + std::size_t(bt) * N * ld;
  const float* C_rows = s.C + std::size_t(bt) * N * ld;
  for (int n = threadIdx.x; n < N; n += kThreads) {
    carry_b[n] = kWrite ? seed[(std::size_t(be) * segs + seg) * N + n] : 0.0f;
    carry_a[n] = 1.0f;
  }
  __syncthreads();
  for (int t0 = t_begin; t0 < t_end; t0 += kChunk) {
    const int base = t0 + threadIdx.x * kItems;
    float uu[kItems], dd[kItems], acc[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int t = base + i;
      uu[i] = t < t_end ? u_row[t] : 0.0f;
      dd[i] = t < t_end ? dt_row[t] : 0.0f;
      acc[i] = D[e] * uu[i];
    }
    for (int n = 0; n < N; ++n) {
      const float a = A[e * N + n];
      ScanPair p[kItems];
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        const int t = base + i;
        p[i] = t < t_end ? ScanPair{__expf(dd[i] * a), dd[i] * B_rows[std::size_t(n) * ld + t] * uu[i]}
                         : ScanPair{1.0f, 0.0f};
      }
      Carry carry{{carry_a[n], carry_b[n]}};
      Scan(scan_tmp).InclusiveScan(p, p, ScanOp{}, carry);
      if (kWrite) {
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          const int t = base + i;
          if (t < t_end)
            acc[i] += p[i].b * C_rows[std::size_t(n) * ld + t];
        }
      }
      __syncthreads();  // scan_tmp reused; every thread has read the carry
      if (threadIdx.x == 0) {
        carry_b[n] = carry.running.b;
        carry_a[n] = kWrite ? 1.0f : carry.running.a;  // the aggregate's decay (only the combine pass needs it)
      }
      __syncthreads();
    }
    if (kWrite) {
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        const int t = base + i;
        if (t >= t_end)
          continue;
        float out = acc[i];
        if (z) {
          const float zz = z[std::size_t(be) * ld + t];
          out *= zz / (1.0f + __expf(-zz));
        }
        y[std::size_t(be) * ld + t] = out;
      }
    }
  }
  if (!kWrite)
    for (int n = threadIdx.x; n < N; n += kThreads)
      agg[(std::size_t(be) * segs + seg) * N + n] = ScanPair{carry_a[n], carry_b[n]};
  if (kWrite && seg == segs - 1)  // the final state (seed was read into carry_b before the loop)
    for (int n = threadIdx.x; n < N; n += kThreads)
      s.h[std::size_t(be) * N + n] = carry_b[n];
}

// The carries between segments, one thread per (row, n): h enters segment s
// as seed[s] (the last segment of pass 3 writes the final state).
__global__ void mamba1_combine_kernel(int rows_n, int N, int segs, const ScanPair* __restrict__ agg,
                                      const float* __restrict__ h, float* __restrict__ seed) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;  // row * N + n
  if (i >= rows_n)
    return;
  const int row = i / N, n = i % N;
  float s = h[i];
  for (int k = 0; k < segs; ++k) {
    const std::size_t at = (std::size_t(row) * segs + k) * N + n;
    seed[at] = s;
    s = agg[at].a * s + agg[at].b;
  }
}

namespace {
constexpr int kThreads = 128, kItems = 4;  // chunk 512
constexpr int kChunk = kThreads * kItems;

int segments(int batch, int T, int E, int sms) {
  // Enough blocks to hide the state loop's barriers (about 32 per SM; 8 was
  // 1.4x slower on the H200), at least a chunk each.
  const long rows = long(batch) * E;
  const long want = (32L * sms + rows - 1) / rows;
  const long chunks = (T + kChunk - 1) / kChunk;
  return int(std::max(1L, std::min(want, chunks)));
}
}  // namespace

std::size_t mamba1_scan_work_bytes(const Mamba1Scan& s, int sms) {
  const int segs = segments(s.batch, s.T, s.E, sms);
  if (segs == 1)
    return 0;
  return std::size_t(s.batch) * s.E * segs * s.N * (sizeof(ScanPair) + sizeof(float));
}

// Three launches (one if a single segment): every segment's aggregate, the
// carries, every segment again with its carry-in.
cudaError_t mamba1_scan(const Mamba1Scan& s, void* work, int sms, cudaStream_t stream) {
  if (s.T <= 0 || s.batch <= 0)
    return cudaSuccess;
  const int rows = s.batch * s.E;
  const int segs = segments(s.batch, s.T, s.E, sms);
  const int seg_chunks = ((s.T + kChunk - 1) / kChunk + segs - 1) / segs;
  const int seg_len = seg_chunks * kChunk;
  const dim3 grid{unsigned(rows), unsigned(segs)};
  const std::size_t smem = 2 * std::size_t(s.N) * sizeof(float);
  if (segs == 1) {
    mamba1_segment_kernel<kThreads, kItems, true><<<grid, kThreads, smem, stream>>>(s, seg_len, s.h, nullptr);
    return cudaGetLastError();
  }
  auto* agg = static_cast<ScanPair*>(work);
  auto* seed = reinterpret_cast<float*>(agg + std::size_t(rows) * segs * s.N);
  mamba1_segment_kernel<kThreads, kItems, false><<<grid, kThreads, smem, stream>>>(s, seg_len, nullptr, agg);
  const int rn = rows * s.N;
  mamba1_combine_kernel<<<(rn + 255) / 256, 256, 0, stream>>>(rn, s.N, segs, agg, s.h, seed);
  mamba1_segment_kernel<kThreads, kItems, true><<<grid, kThreads, smem, stream>>>(s, seg_len, seed, nullptr);
  return cudaGetLastError();
}

}  // namespace sw::gpu
