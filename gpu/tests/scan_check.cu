// SPDX-License-Identifier: GPL-3.0-or-later
// The CUDA scans (gpu/src/scan.h) alone: validate, then benchmark (the llm.c
// dev/cuda way).
//
// Parity (always): against the plain sequential recurrence in double
// precision, here, on seeded random inputs of odd shapes, from an initial
// state; and the state carried across two calls must equal one call.
//   Tolerance: max |y_gpu − y_ref| / max |y_ref| ≤ 1e-4 (and the same for the
//   final state). fp32 with exp approximated (__expf / expf, ≈ 2 ulp) and a
//   parallel association order: the error of h is a few ulp per step times
//   the decay's memory (|a| < 1), not T.
// --bench: GB/s of each scan for T = 1e5 … 1e8 samples against the card's
// device-to-device copy (read + write), timed with events, median of 5.
// Bytes counted: every input read once and y written once (the least any
// implementation must move). --json FILE writes the figures.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "scan.h"

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(2);                                                                        \
    }                                                                                      \
  } while (0)

namespace {

using sw::gpu::Mamba1Scan;
using sw::gpu::Mamba2Scan;

int g_sms = 132;

struct DevVec {
  float* p = nullptr;
  std::size_t n = 0;
  explicit DevVec(std::size_t count) : n(count) {
    CK(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(float)));
    CK(cudaMemset(p, 0, std::max<std::size_t>(n, 1) * sizeof(float)));
  }
  explicit DevVec(const std::vector<float>& v) : DevVec(v.size()) {
    CK(cudaMemcpy(p, v.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~DevVec() { cudaFree(p); }
  DevVec(const DevVec&) = delete;
  std::vector<float> get() const {
    std::vector<float> v(n);
    CK(cudaMemcpy(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return v;
  }
};

struct Work {
  void* p = nullptr;
  std::size_t bytes = 0;
  void* need(std::size_t b) {
    if (b > bytes) {
      cudaFree(p);
      CK(cudaMalloc(&p, b));
      bytes = b;
    }
    return p;
  }
} g_work;

std::vector<float> fill(std::size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v)
    x = d(rng);
  return v;
}

double rel(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    num = std::max(num, std::abs(got[i] - want[i])), den = std::max(den, std::abs(want[i]));
  return num / std::max(den, 1e-30);
}

// Columns [t0, t0 + len) of rows × T → rows × len.
std::vector<float> cut(const std::vector<float>& v, int rows, int T, int t0, int len) {
  std::vector<float> o(std::size_t(rows) * len);
  for (int r = 0; r < rows; ++r)
    std::copy_n(v.begin() + std::size_t(r) * T + t0, len, o.begin() + std::size_t(r) * len);
  return o;
}
void paste(std::vector<float>& v, const std::vector<float>& part, int rows, int T, int t0, int len) {
  for (int r = 0; r < rows; ++r)
    std::copy_n(part.begin() + std::size_t(r) * len, len, v.begin() + std::size_t(r) * T + t0);
}

// ---- Mamba-1 ---------------------------------------------------------------

struct M1 {
  int bt, T, E, N;
  std::vector<float> u, dt, A, B, C, D, z, h0;
};

M1 make1(int bt, int T, int E, int N, unsigned seed) {
  std::mt19937 rng(seed);
  M1 p{bt, T, E, N};
  p.u = fill(std::size_t(bt) * E * T, rng, -1, 1);
  p.dt = fill(std::size_t(bt) * E * T, rng, 0.001f, 0.1f);
  p.A = fill(std::size_t(E) * N, rng, -2.0f, -0.05f);
  p.B = fill(std::size_t(bt) * N * T, rng, -1, 1);
  p.C = fill(std::size_t(bt) * N * T, rng, -1, 1);
  p.D = fill(E, rng, -1, 1);
  p.z = fill(std::size_t(bt) * E * T, rng, -1, 1);
  p.h0 = fill(std::size_t(bt) * E * N, rng, -1, 1);
  return p;
}

void ref1(const M1& p, std::vector<double>& y, std::vector<double>& h) {
  y.assign(std::size_t(p.bt) * p.E * p.T, 0.0);
  h.assign(p.h0.begin(), p.h0.end());
  for (int b = 0; b < p.bt; ++b)
    for (int e = 0; e < p.E; ++e) {
      const std::size_t row = std::size_t(b) * p.E + e;
      for (int t = 0; t < p.T; ++t) {
        const double dt = p.dt[row * p.T + t], u = p.u[row * p.T + t];
        double acc = p.D[e] * u;
        for (int n = 0; n < p.N; ++n) {
          double& s = h[row * p.N + n];
          s = std::exp(dt * p.A[e * p.N + n]) * s + dt * p.B[(std::size_t(b) * p.N + n) * p.T + t] * u;
          acc += s * p.C[(std::size_t(b) * p.N + n) * p.T + t];
        }
        const double z = p.z[row * p.T + t];
        y[row * p.T + t] = acc * z / (1.0 + std::exp(-z));
      }
    }
}

// One call over p on the device; h in/out.
std::vector<float> run1(const M1& p, DevVec& h) {
  DevVec u(p.u), dt(p.dt), A(p.A), B(p.B), C(p.C), D(p.D), z(p.z), y(p.u.size());
  Mamba1Scan s;
  s.batch = p.bt, s.T = p.T, s.E = p.E, s.N = p.N, s.ld = std::size_t(p.T);
  s.u = u.p, s.dt = dt.p, s.z = z.p, s.B = B.p, s.C = C.p, s.A = A.p, s.D = D.p, s.h = h.p, s.y = y.p;
  CK(sw::gpu::mamba1_scan(s, g_work.need(sw::gpu::mamba1_scan_work_bytes(s, g_sms)), g_sms, 0));
  CK(cudaDeviceSynchronize());
  return y.get();
}

double parity1(int bt, int T, int E, int N, unsigned seed, bool split) {
  const M1 p = make1(bt, T, E, N, seed);
  std::vector<double> yr, hr;
  ref1(p, yr, hr);
  DevVec h(p.h0);
  std::vector<float> y;
  if (!split) {
    y = run1(p, h);
  } else {
    y.assign(p.u.size(), 0.0f);
    const int T1 = T / 2;
    for (int part = 0; part < 2; ++part) {
      const int t0 = part ? T1 : 0, len = part ? T - T1 : T1;
      M1 q{bt, len, E, N};
      q.u = cut(p.u, bt * E, T, t0, len), q.dt = cut(p.dt, bt * E, T, t0, len), q.z = cut(p.z, bt * E, T, t0, len);
      q.B = cut(p.B, bt * N, T, t0, len), q.C = cut(p.C, bt * N, T, t0, len), q.A = p.A, q.D = p.D;
      paste(y, run1(q, h), bt * E, T, t0, len);
    }
  }
  return std::max(rel(y, yr), rel(h.get(), hr));
}

// ---- Mamba-2 ---------------------------------------------------------------

struct M2 {
  int bt, T, H, P, N, G;
  bool dpc;
  std::vector<float> x, B, C, dt, A, D, h0;  // x [bt, HP, T]; B, C [bt, GN, T]; dt [bt, H, T]
};

M2 make2(int bt, int T, int H, int P, int N, int G, bool dpc, unsigned seed) {
  std::mt19937 rng(seed);
  M2 p{bt, T, H, P, N, G, dpc};
  p.x = fill(std::size_t(bt) * H * P * T, rng, -1, 1);
  p.B = fill(std::size_t(bt) * G * N * T, rng, -1, 1);
  p.C = fill(std::size_t(bt) * G * N * T, rng, -1, 1);
  p.dt = fill(std::size_t(bt) * H * T, rng, 0.001f, 0.1f);
  p.A = fill(H, rng, -2.0f, -0.05f);
  p.D = fill(dpc ? H * P : H, rng, -1, 1);
  p.h0 = fill(std::size_t(bt) * H * P * N, rng, -1, 1);
  return p;
}

void ref2(const M2& p, std::vector<double>& y, std::vector<double>& h) {
  const int HP = p.H * p.P;
  y.assign(std::size_t(p.bt) * HP * p.T, 0.0);
  h.assign(p.h0.begin(), p.h0.end());
  for (int b = 0; b < p.bt; ++b)
    for (int hh = 0; hh < p.H; ++hh) {
      const int g = hh / (p.H / p.G);
      for (int pp = 0; pp < p.P; ++pp) {
        const std::size_t ch = std::size_t(b) * HP + hh * p.P + pp;
        for (int t = 0; t < p.T; ++t) {
          const double dt = p.dt[(std::size_t(b) * p.H + hh) * p.T + t], x = p.x[ch * p.T + t];
          const double da = std::exp(dt * p.A[hh]);
          double acc = (p.dpc ? p.D[hh * p.P + pp] : p.D[hh]) * x;
          for (int n = 0; n < p.N; ++n) {
            const std::size_t bc = (std::size_t(b) * p.G * p.N + g * p.N + n) * p.T + t;
            double& s = h[ch * p.N + n];
            s = da * s + dt * x * p.B[bc];
            acc += s * p.C[bc];
          }
          y[ch * p.T + t] = acc;
        }
      }
    }
}

Mamba2Scan shape2(const M2& p) {
  Mamba2Scan s;
  s.batch = p.bt, s.T = p.T, s.H = p.H, s.P = p.P, s.N = p.N, s.G = p.G, s.ld = std::size_t(p.T);
  s.x_batch = std::size_t(p.H) * p.P * p.T, s.bc_batch = std::size_t(p.G) * p.N * p.T, s.d_per_channel = p.dpc;
  return s;
}

std::vector<float> run2(const M2& p, DevVec& h) {
  DevVec x(p.x), B(p.B), C(p.C), dt(p.dt), A(p.A), D(p.D), y(p.x.size());
  Mamba2Scan s = shape2(p);
  s.x = x.p, s.B = B.p, s.C = C.p, s.dt = dt.p, s.A = A.p, s.D = D.p, s.h = h.p, s.y = y.p;
  CK(sw::gpu::mamba2_scan_prepare(p.P, p.N));
  CK(sw::gpu::mamba2_scan(s, g_work.need(sw::gpu::mamba2_scan_work_bytes(s)), 0));
  CK(cudaDeviceSynchronize());
  return y.get();
}

double parity2(int bt, int T, int H, int P, int N, int G, bool dpc, unsigned seed, bool split) {
  const M2 p = make2(bt, T, H, P, N, G, dpc, seed);
  std::vector<double> yr, hr;
  ref2(p, yr, hr);
  DevVec h(p.h0);
  std::vector<float> y;
  if (!split) {
    y = run2(p, h);
  } else {
    y.assign(p.x.size(), 0.0f);
    const int T1 = T / 2;
    for (int part = 0; part < 2; ++part) {
      const int t0 = part ? T1 : 0, len = part ? T - T1 : T1;
      M2 q = p;
      q.T = len;
      q.x = cut(p.x, bt * H * P, T, t0, len), q.B = cut(p.B, bt * G * N, T, t0, len);
      q.C = cut(p.C, bt * G * N, T, t0, len), q.dt = cut(p.dt, bt * H, T, t0, len);
      paste(y, run2(q, h), bt * H * P, T, t0, len);
    }
  }
  return std::max(rel(y, yr), rel(h.get(), hr));
}

// ---- throughput ------------------------------------------------------------

float elapsed(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

template <class F>
double median_ms(F&& f) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  f();  // warm-up
  std::vector<double> ms;
  for (int r = 0; r < 5; ++r) {
    CK(cudaEventRecord(e0));
    f();
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    ms.push_back(elapsed(e0, e1));
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return ms[2];
}

}  // namespace

int main(int argc, char** argv) {
  bool bench = false, parity = true;
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--bench"))
      bench = true;
    else if (!std::strcmp(argv[i], "--bench-only"))  // kernel experiments: throughput alone
      bench = true, parity = false;
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
      json = argv[++i];
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  g_sms = prop.multiProcessorCount;
  std::printf("device: %s, %d SMs\n", prop.name, g_sms);
  int fails = 0;
  auto report = [&fails](const char* what, double err) {
    const bool ok = err <= 1e-4;
    fails += !ok;
    std::printf("%s: max rel err %.3g %s\n", what, err, ok ? "ok" : "FAIL");
    return err;
  };
  double worst = 0;
  struct C1 {
    int bt, T, E, N;
    bool split;
  };
  for (const C1& c :
       {C1{1, 1, 1, 1, false}, C1{3, 5000, 37, 16, false}, C1{2, 2048, 5, 7, false}, C1{2, 4097, 9, 16, false},
        C1{1, 100003, 3, 4, false}, C1{3, 5001, 11, 16, true}, C1{1, 20000, 24, 32, true}}) {
    if (!parity)
      break;
    char what[160];
    std::snprintf(what, sizeof what, "mamba1 B=%d T=%d E=%d N=%d%s", c.bt, c.T, c.E, c.N,
                  c.split ? " (two calls, state carried)" : "");
    worst = std::max(worst, report(what, parity1(c.bt, c.T, c.E, c.N, 1234u + unsigned(c.T), c.split)));
  }
  struct C2 {
    int bt, T, H, P, N, G;
    bool dpc, split;
  };
  for (const C2& c : {C2{1, 1, 1, 1, 1, 1, false, false}, C2{2, 255, 2, 8, 8, 1, false, false},
                      C2{2, 257, 2, 8, 8, 1, true, false}, C2{3, 5000, 6, 5, 3, 3, true, false},
                      C2{1, 100003, 2, 8, 8, 1, false, false}, C2{2, 30001, 4, 16, 16, 2, false, true},
                      C2{1, 20000, 3, 64, 16, 1, false, true}, C2{5, 777, 1, 3, 33, 1, true, true},
                      C2{2, 3001, 2, 2, 4, 2, false, true}, C2{1, 70001, 1, 32, 2, 1, true, false}}) {
    if (!parity)
      break;
    char what[160];
    std::snprintf(what, sizeof what, "mamba2 B=%d T=%d H=%d P=%d N=%d G=%d%s%s", c.bt, c.T, c.H, c.P, c.N, c.G,
                  c.dpc ? " D per channel" : "", c.split ? " (two calls, state carried)" : "");
    worst = std::max(worst, report(what, parity2(c.bt, c.T, c.H, c.P, c.N, c.G, c.dpc, 99u + unsigned(c.T), c.split)));
  }
  std::printf("%s (worst %.3g, tolerance 1e-4)\n", fails ? "PARITY FAILED" : "parity ok", worst);
  if (!bench || fails)
    return fails ? 1 : 0;

  std::string out =
      "{\n  \"device\": \"" + std::string(prop.name) + "\",\n  \"parity_worst\": " + std::to_string(worst) + ",\n";
  const std::size_t copy_bytes = std::size_t(1) << 30;
  double copy_gbs = 0;
  {
    DevVec src(copy_bytes / 4), dst(copy_bytes / 4);
    const double ms = median_ms([&] { CK(cudaMemcpyAsync(dst.p, src.p, copy_bytes, cudaMemcpyDeviceToDevice)); });
    copy_gbs = 2.0 * copy_bytes / (ms * 1e-3) / 1e9;
  }
  std::printf("device-to-device copy: %.0f GB/s (read + write, 1 GiB, median of 5)\n", copy_gbs);
  out += "  \"copy_gbs\": " + std::to_string(copy_gbs) + ",\n  \"scans\": [\n";
  std::printf(
      "| scan | samples T | channels | ms | ns per channel-sample | GB/s | of copy |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  bool first = true;
  auto row = [&](const char* scan, long T, int ch, double ms, double bytes) {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    std::printf("| %s | %ld | %d | %.3f | %.4f | %.0f | %.0f %% |\n", scan, T, ch, ms, ms * 1e6 / (double(T) * ch), gbs,
                100.0 * gbs / copy_gbs);
    std::fflush(stdout);
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "%s    {\"scan\": \"%s\", \"T\": %ld, \"channels\": %d, \"ms\": %.4f, \"gbs\": %.1f, \"of_copy\": %.4f}",
        first ? "" : ",\n", scan, T, ch, ms, gbs, gbs / copy_gbs);
    out += buf;
    first = false;
  };
  // Mamba-2 at the standard preset's shape (ts-overdrive: 2 heads x 8, N 8), one file.
  for (long T : {100000L, 1000000L, 10000000L, 100000000L}) {
    M2 p{1, int(T), 2, 8, 8, 1, false};
    const int HP = p.H * p.P;
    DevVec x(std::size_t(HP) * T), B(std::size_t(p.N) * T), C(std::size_t(p.N) * T), dt(std::size_t(p.H) * T), A(p.H),
        D(p.H), h(std::size_t(HP) * p.N), y(std::size_t(HP) * T);
    Mamba2Scan s = shape2(p);
    s.x = x.p, s.B = B.p, s.C = C.p, s.dt = dt.p, s.A = A.p, s.D = D.p, s.h = h.p, s.y = y.p;
    CK(sw::gpu::mamba2_scan_prepare(p.P, p.N));
    void* w = g_work.need(sw::gpu::mamba2_scan_work_bytes(s));
    const double ms = median_ms([&] { CK(sw::gpu::mamba2_scan(s, w, 0)); });
    row("mamba2 H2 P8 N8", T, HP, ms, 4.0 * double(T) * (2.0 * HP + p.H + 2.0 * p.N));
  }
  // Mamba-1, N = 16: 32 channels (4 at 1e8 for memory).
  for (long T : {100000L, 1000000L, 10000000L, 100000000L}) {
    const int E = T >= 100000000L ? 4 : 32, N = 16;
    DevVec u(std::size_t(E) * T), dt(std::size_t(E) * T), y(std::size_t(E) * T), B(std::size_t(N) * T),
        C(std::size_t(N) * T), A(std::size_t(E) * N), D(E), h(std::size_t(E) * N);
    Mamba1Scan s;
    s.batch = 1, s.T = int(T), s.E = E, s.N = N, s.ld = std::size_t(T);
    s.u = u.p, s.dt = dt.p, s.B = B.p, s.C = C.p, s.A = A.p, s.D = D.p, s.h = h.p, s.y = y.p;
    void* w = g_work.need(sw::gpu::mamba1_scan_work_bytes(s, g_sms));
    const double ms = median_ms([&] { CK(sw::gpu::mamba1_scan(s, w, g_sms, 0)); });
    row("mamba1 N16", T, E, ms, 4.0 * double(T) * (3.0 * E + 2.0 * N));
  }
  out += "\n  ]\n}\n";
  if (json) {
    FILE* f = std::fopen(json, "w");
    if (f) {
      std::fputs(out.c_str(), f);
      std::fclose(f);
    }
  }
  return 0;
}
