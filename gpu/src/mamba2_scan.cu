// SPDX-License-Identifier: GPL-3.0-or-later
// Mamba-2 selective scan (one scalar decay per head; formula and shapes:
// scan.h), chunked and parallel, in one pass over memory.
//
// Time is cut into tiles of kTile samples; one block per (batch, head, tile).
// A block stages its tile in shared memory (x [P, kTile], B and C [N, kTile],
// dt and exp(dt·A) [kTile]), then scans it with the (decay, input) pairs of
// the Mamba-1 kernel's design under the op (a1·a0, a1·b0 + b1): each lane
// composes kItems consecutive samples, then a warp scan (shuffles) joins the
// lanes. Because the decay is one scalar per head, its warp scan is done once
// per tile and every (p, n) state then only scans its input term (one
// shuffle and one FMA per step). The carry between tiles is passed with a
// decoupled look-back (the single-pass prefix scan of Merrill & Garland,
// "Single-pass Parallel Prefix Scan with Decoupled Look-back", 2016): each
// tile publishes its aggregate (Π decay, h at its end from h = 0), then
// walks back over its predecessors' aggregates until one has published its
// inclusive state, so the data are read once and written once. Tile 0 of a
// row starts from the initial state and publishes its inclusive state at
// once; the last tile writes the final state. Tiles take their index from an
// atomic counter, so every predecessor of a running tile has started (no
// deadlock whatever the scheduling).
#include <algorithm>

#include "scan.h"

namespace sw::gpu {

namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps, kItems = 8;
constexpr int kTile = 32 * kItems;  // samples per tile
// Smem layout of a staged row: item i of lane l at i·kStride + l. A stride of
// 36 (not 32) keeps both the staging stores (consecutive j) and the lanes'
// reads (consecutive l) free of bank conflicts.
constexpr int kStride = 36;
constexpr int kRow = kItems * kStride;  // floats per staged row
constexpr unsigned kFull = 0xffffffffu;

// Work layout: [counter, pad x3][flags: tiles][agg_a: tiles][agg_b: tiles·PN][incl_b: tiles·PN]
struct Work {
  int* counter;
  int* flags;  // 0: nothing yet, 1: aggregate published, 2: inclusive state published
  float* agg_a;
  float* agg_b;
  float* incl_b;
};

Work carve(void* work, long tiles, int pn) {
  Work w{};
  w.counter = static_cast<int*>(work);
  w.flags = w.counter + 4;
  w.agg_a = reinterpret_cast<float*>(w.flags + tiles);
  w.agg_b = w.agg_a + tiles;
  w.incl_b = w.agg_b + tiles * pn;
  return w;
}

// Smem slot of tile sample j: lane j / kItems holds samples j = lane·kItems + i
// at i·32 + lane, so a warp reading item i touches 32 consecutive banks.
__device__ __forceinline__ int slot(int j) {
  return (j % kItems) * kStride + j / kItems;
}

__global__ void __launch_bounds__(kThreads) mamba2_scan_kernel(Mamba2Scan s, int tiles_per_row, Work w) {
  extern __shared__ float sm[];
  const int P = s.P, N = s.N, PN = P * N;
  float* xs = sm;              // [P, kRow]
  float* bs = xs + P * kRow;   // [N, kRow]
  float* cs = bs + N * kRow;   // [N, kRow]
  float* dts = cs + N * kRow;  // [kRow]
  float* das = dts + kRow;     // [kRow] exp(dt·A); 1 past the end
  float* carry = das + kRow;   // [PN] the state entering the tile
  float* agg = carry + PN;     // [PN] h at the tile's end from h = 0
  __shared__ int s_id;
  __shared__ int s_tile[32];
  __shared__ float s_weight[32];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  if (tid == 0)
    s_id = atomicAdd(w.counter, 1);
  __syncthreads();
  const int id = s_id;
  const int row = id / tiles_per_row, tile = id % tiles_per_row;
  const int b = row / s.H, hh = row % s.H, g = hh / (s.H / s.G);
  const int t0 = tile * kTile, len = min(kTile, s.T - t0);
  const float A = s.A[hh];

  // Stage the tile (coalesced along t).
  const float* xrow = s.x + std::size_t(b) * s.x_batch + std::size_t(hh) * P * s.ld + t0;
  const float* brow = s.B + std::size_t(b) * s.bc_batch + std::size_t(g) * N * s.ld + t0;
  const float* crow = s.C + std::size_t(b) * s.bc_batch + std::size_t(g) * N * s.ld + t0;
  const float* dtrow = s.dt + (std::size_t(b) * s.H + hh) * s.ld + t0;
  for (int j = tid; j < kTile; j += kThreads) {
    const int k = slot(j);
    const bool in = j < len;
    const float dt = in ? dtrow[j] : 0.0f;
    dts[k] = dt;
    das[k] = in ? expf(dt * A) : 1.0f;
    for (int p = 0; p < P; ++p)
      xs[p * kRow + k] = in ? xrow[std::size_t(p) * s.ld + j] : 0.0f;
    for (int n = 0; n < N; ++n) {
      bs[n * kRow + k] = in ? brow[std::size_t(n) * s.ld + j] : 0.0f;
      cs[n * kRow + k] = in ? crow[std::size_t(n) * s.ld + j] : 0.0f;
    }
  }
  __syncthreads();

  // The decays' warp scan, shared by every state: coef[k] multiplies the value
  // shuffled up by 2^k (0 where the lane has no partner, so the step adds 0).
  float da[kItems];
  float a = 1.0f;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    da[i] = das[i * kStride + lane];
    a *= da[i];
  }
  float coef[5];
#pragma unroll
  for (int k = 0; k < 5; ++k) {
    const float up = __shfl_up_sync(kFull, a, 1 << k);
    coef[k] = lane >= (1 << k) ? a : 0.0f;
    if (lane >= (1 << k))
      a *= up;
  }
  const float a_incl = a;  // Π of the decays of lanes 0..lane
  float a_excl = __shfl_up_sync(kFull, a_incl, 1);
  if (lane == 0)
    a_excl = 1.0f;
  const float a_tile = __shfl_sync(kFull, a_incl, 31);

  // One (p, n) state over the tile from h = 0: its inputs dt·x·B per item and
  // the lane's inclusive h at its last item after the warp scan.
  auto lane_scan = [&](int p, int n, float(&in)[kItems]) {
    float h = 0.0f;
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int k = i * kStride + lane;
      in[i] = dts[k] * xs[p * kRow + k] * bs[n * kRow + k];
      h = fmaf(da[i], h, in[i]);
    }
#pragma unroll
    for (int k = 0; k < 5; ++k)
      h = fmaf(coef[k], __shfl_up_sync(kFull, h, 1 << k), h);
    return h;
  };

  // 1. The tile's aggregate.
  for (int pn = warp; pn < PN; pn += kWarps) {
    float in[kItems];
    const float h = __shfl_sync(kFull, lane_scan(pn / N, pn % N, in), 31);
    if (lane == 0)
      agg[pn] = h;
  }
  __syncthreads();
  float* h_state = s.h + (std::size_t(b) * s.H + hh) * PN;  // [P, N] of this head
  if (tile == 0) {
    // From the initial state: publish the inclusive state at once.
    for (int pn = tid; pn < PN; pn += kThreads) {
      carry[pn] = h_state[pn];
      w.incl_b[std::size_t(id) * PN + pn] = fmaf(a_tile, carry[pn], agg[pn]);
    }
    __threadfence();
    __syncthreads();
    if (tid == 0)
      atomicExch(&w.flags[id], 2);
  } else {
    for (int pn = tid; pn < PN; pn += kThreads)
      w.agg_b[std::size_t(id) * PN + pn] = agg[pn];
    if (tid == 0)
      w.agg_a[id] = a_tile;
    __threadfence();
    __syncthreads();
    if (tid == 0)
      atomicExch(&w.flags[id], 1);
    // 2. Look back, 32 predecessors at a time (warp 0; CUB's warp-wide
    // look-back): wait until each has published something, stop at the
    // nearest inclusive state, and compose g(h) = decay·h + carry[pn] from
    // right to left: tile j's values enter with the product of the decays of
    // the tiles between it and this one.
    if (warp == 0) {
      for (int pn = lane; pn < PN; pn += 32)
        carry[pn] = 0.0f;
      const int first = id - tile;  // tile 0 of this row: always inclusive
      float decay = 1.0f;
      for (int base = id - 1;; base -= 32) {
        const int j = base - lane;
        int f;
        // Poll with a growing pause: hundreds of waiting warps spinning
        // flat out would crowd the memory system the tiles' data use.
        for (unsigned pause = 32;; pause = min(2 * pause, 1024u)) {
          f = j >= first ? *reinterpret_cast<volatile int*>(&w.flags[j]) : 2;
          if (!__any_sync(kFull, f == 0))
            break;
          __nanosleep(pause);
        }
        __threadfence();
        const unsigned incl = __ballot_sync(kFull, f == 2);
        const int stop = incl ? __ffs(incl) - 1 : 32;  // lanes < stop: aggregates; lane stop: inclusive
        const float a = lane < stop ? __ldcg(&w.agg_a[j]) : 1.0f;
        float prod = a;  // inclusive product of the decays of lanes 0..lane
#pragma unroll
        for (int k = 1; k < 32; k <<= 1) {
          const float up = __shfl_up_sync(kFull, prod, k);
          if (lane >= k)
            prod *= up;
        }
        float excl = __shfl_up_sync(kFull, prod, 1);
        if (lane == 0)
          excl = 1.0f;
        s_tile[lane] = j;
        s_weight[lane] = lane <= stop ? decay * excl : 0.0f;
        __syncwarp();
        const int used = stop < 32 ? stop + 1 : 32;
        for (int pn = lane; pn < PN; pn += 32) {
          float acc = carry[pn];
          for (int l = 0; l < used; ++l) {
            const float* vals = (l < stop ? w.agg_b : w.incl_b) + std::size_t(s_tile[l]) * PN;
            acc = fmaf(s_weight[l], __ldcg(&vals[pn]), acc);
          }
          carry[pn] = acc;
        }
        if (stop < 32)
          break;
        decay *= __shfl_sync(kFull, prod, 31);
        __syncwarp();
      }
    }
    __syncthreads();
    for (int pn = tid; pn < PN; pn += kThreads)
      w.incl_b[std::size_t(id) * PN + pn] = fmaf(a_tile, carry[pn], agg[pn]);
    __threadfence();
    __syncthreads();
    if (tid == 0)
      atomicExch(&w.flags[id], 2);
  }
  if (tile == tiles_per_row - 1)
    for (int pn = tid; pn < PN; pn += kThreads)
      h_state[pn] = fmaf(a_tile, carry[pn], agg[pn]);
  __syncthreads();

  // 3. Each state again from its carry-in; y = Σ_n h·C + D·x.
  float* yrow = s.y + (std::size_t(b) * s.H * P + std::size_t(hh) * P) * s.ld + t0;
  for (int p = warp; p < P; p += kWarps) {
    float y[kItems] = {};
    for (int n = 0; n < N; ++n) {
      float in[kItems];
      const float incl = lane_scan(p, n, in);
      float h_excl = __shfl_up_sync(kFull, incl, 1);
      if (lane == 0)
        h_excl = 0.0f;
      float h = fmaf(a_excl, carry[p * N + n], h_excl);
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        h = fmaf(da[i], h, in[i]);
        y[i] = fmaf(h, cs[n * kRow + i * kStride + lane], y[i]);
      }
    }
    const float d = s.d_per_channel ? s.D[hh * P + p] : s.D[hh];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int j = lane * kItems + i;
      if (j < len)
        yrow[std::size_t(p) * s.ld + j] = fmaf(d, xs[p * kRow + i * kStride + lane], y[i]);
    }
  }
}

}  // namespace

std::size_t mamba2_scan_smem_bytes(int P, int N) {
  return (std::size_t(P + 2 * N + 2) * kRow + 2 * std::size_t(P) * N) * sizeof(float);
}

std::size_t mamba2_scan_max_smem() {
  return 200 * 1024;
}

std::size_t mamba2_scan_work_bytes(const Mamba2Scan& s) {
  const long tiles = long(s.batch) * s.H * ((s.T + kTile - 1) / kTile);
  const long pn = long(s.P) * s.N;
  return std::size_t(4 + tiles) * sizeof(int) + std::size_t(tiles + 2 * tiles * pn) * sizeof(float);
}

cudaError_t mamba2_scan_prepare(int P, int N) {
  const std::size_t smem = mamba2_scan_smem_bytes(P, N);
  if (smem > mamba2_scan_max_smem())
    return cudaErrorInvalidValue;
  return cudaFuncSetAttribute(mamba2_scan_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
}

cudaError_t mamba2_scan(const Mamba2Scan& s, void* work, cudaStream_t stream) {
  if (s.T <= 0 || s.batch <= 0)
    return cudaSuccess;
  const int per_row = (s.T + kTile - 1) / kTile;
  const long tiles = long(s.batch) * s.H * per_row;
  const Work w = carve(work, tiles, s.P * s.N);
  const std::size_t smem = mamba2_scan_smem_bytes(s.P, s.N);
  if (smem > mamba2_scan_max_smem())
    return cudaErrorInvalidValue;
  // Counter and flags back to zero (ints at the front of the work buffer).
  cudaError_t e = cudaMemsetAsync(work, 0, std::size_t(4 + tiles) * sizeof(int), stream);
  if (e != cudaSuccess)
    return e;
  mamba2_scan_kernel<<<unsigned(tiles), kThreads, smem, stream>>>(s, per_row, w);
  return cudaGetLastError();
}

}  // namespace sw::gpu
