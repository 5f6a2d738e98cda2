// SPDX-License-Identifier: GPL-3.0-or-later
// Mamba-1 selective scan over long sequences, chunked and parallel (issue 7,
// work in progress: not yet in the build; see gpu/README.md).
//
//   h[e,n](t) = exp(dt[e,t]·A[e,n])·h[e,n](t-1) + dt[e,t]·B[n,t]·u[e,t]
//   y[e,t]    = Σ_n h[e,n](t)·C[n,t] + D[e]·u[e,t]        (then · silu(z) if z)
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
// the aggregates into each segment's carry-in (and the final state), pass 3
// scans each segment again from its carry-in and writes y.
//
// Shapes (row-major): u, dt, z, y: [Bt, E, T]; B, C: [Bt, N, T]; A: [E, N];
// D: [E]; h (in: initial state, out: final state): [Bt, E, N].
#include <algorithm>
#include <cub/block/block_scan.cuh>

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
    mamba1_segment_kernel(int T, int E, int N, int seg_len, const float* __restrict__ u, const float* __restrict__ dt,
                          const float* __restrict__ A, const float* __restrict__ Bm, const float* __restrict__ Cm,
                          const float* __restrict__ D, const float* __restrict__ z, const float* __restrict__ seed,
                          ScanPair* __restrict__ agg, float* __restrict__ y) {
  using Scan = cub::BlockScan<ScanPair, kThreads, cub::BLOCK_SCAN_WARP_SCANS>;
  __shared__ typename Scan::TempStorage scan_tmp;
  extern __shared__ float smem[];  // [N] carry b, [N] carry a
  float* carry_b = smem;
  float* carry_a = smem + N;
  constexpr int kChunk = kThreads * kItems;
  const int be = blockIdx.x, seg = blockIdx.y, segs = gridDim.y;
  const int bt = be / E, e = be % E;
  const int t_begin = seg * seg_len, t_end = min(T, t_begin + seg_len);
  const float* u_row = u + std::size_t(be) * T;
  const float* dt_row = dt + std::size_t(be) * T;
  const float* B_rows = Bm + std::size_t(bt) * N * T;
  const float* C_rows = Cm + std::size_t(bt) * N * T;
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
        p[i] = t < t_end
                   ? ScanPair{__expf(dd[i] * a), dd[i] * Bm[std::size_t(bt) * N * T + std::size_t(n) * T + t] * uu[i]}
                   : ScanPair{1.0f, 0.0f};
      }
      Carry carry{{carry_a[n], carry_b[n]}};
      Scan(scan_tmp).InclusiveScan(p, p, ScanOp{}, carry);
      if (kWrite) {
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          const int t = base + i;
          if (t < t_end)
            acc[i] += p[i].b * C_rows[std::size_t(n) * T + t];
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
          const float zz = z[std::size_t(be) * T + t];
          out *= zz / (1.0f + __expf(-zz));
        }
        y[std::size_t(be) * T + t] = out;
      }
    }
  }
  if (!kWrite)
    for (int n = threadIdx.x; n < N; n += kThreads)
      agg[(std::size_t(be) * segs + seg) * N + n] = ScanPair{carry_a[n], carry_b[n]};
  (void)B_rows;
}

// The carries between segments, one thread per (row, n): h enters segment s
// as seed[s]; h leaves the last segment as the final state.
__global__ void mamba1_combine_kernel(int rows_n, int N, int segs, const ScanPair* __restrict__ agg,
                                      float* __restrict__ h, float* __restrict__ seed) {
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
  h[i] = s;
}

// Host entry: device pointers, shapes as above; `work` is scratch of at least
// mamba1_scan_work_bytes(batch, T, E, N) bytes. Three launches: every
// segment's aggregate, the carries, every segment again with its carry-in.
// Returns cudaSuccess or the launch error.
constexpr int kThreads = 128, kItems = 4;  // chunk 512
constexpr int kChunk = kThreads * kItems;

int mamba1_scan_segments(int batch, int T, int E, int SMs) {
  // Enough blocks to hide the state loop's barriers (about 32 per SM; 8 was 1.4x slower on the H200), at least a chunk
  // each.
  const int rows = batch * E;
  const int want = (32 * SMs + rows - 1) / rows;
  const int chunks = (T + kChunk - 1) / kChunk;
  return std::max(1, std::min(want, chunks));
}

std::size_t mamba1_scan_work_bytes(int batch, int T, int E, int N, int SMs) {
  const int segs = mamba1_scan_segments(batch, T, E, SMs);
  return std::size_t(batch) * E * segs * N * (sizeof(ScanPair) + sizeof(float));
}

cudaError_t mamba1_scan(int batch, int T, int E, int N, const float* u, const float* dt, const float* A, const float* B,
                        const float* C, const float* D, const float* z, float* h, float* y, void* work, int SMs,
                        cudaStream_t stream) {
  const int rows = batch * E;
  const int segs = mamba1_scan_segments(batch, T, E, SMs);
  const int seg_chunks = ((T + kChunk - 1) / kChunk + segs - 1) / segs;
  const int seg_len = seg_chunks * kChunk;
  auto* agg = static_cast<ScanPair*>(work);
  auto* seed = reinterpret_cast<float*>(agg + std::size_t(rows) * segs * N);
  const dim3 grid{unsigned(rows), unsigned(segs)};
  const std::size_t smem = 2 * std::size_t(N) * sizeof(float);
  mamba1_segment_kernel<kThreads, kItems, false>
      <<<grid, kThreads, smem, stream>>>(T, E, N, seg_len, u, dt, A, B, C, D, z, nullptr, agg, y);
  const int rn = rows * N;
  mamba1_combine_kernel<<<(rn + 255) / 256, 256, 0, stream>>>(rn, N, segs, agg, h, seed);
  mamba1_segment_kernel<kThreads, kItems, true>
      <<<grid, kThreads, smem, stream>>>(T, E, N, seg_len, u, dt, A, B, C, D, z, seed, nullptr, y);
  return cudaGetLastError();
}

}  // namespace sw::gpu
