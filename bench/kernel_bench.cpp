// SPDX-License-Identifier: GPL-3.0-or-later
// Validate, then benchmark (llm.c dev/cuda style): each kernel table is first
// compared with the scalar reference on the benchmark's own inputs, and only
// timed if it agrees. Shapes are fx-m's (d_model 32, d_inner 64, d_state 16)
// at a 64-sample block.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "sidewinder/bench/bench.h"
#include "sidewinder/ssm/kernels.h"

using namespace sw;

namespace {

std::vector<float> randv(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v)
    x = d(rng);
  return v;
}

double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, double(std::abs(a[i] - b[i])));
    den = std::max(den, double(std::abs(b[i])));
  }
  return num / (den > 0 ? den : 1);
}

template <class F>
double best_seconds(F&& f, int reps) {
  double best = 1e30;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i)
      f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  return best;
}

}  // namespace

int main() {
  const std::size_t T = 64, K = 32, N = 128, E = 64, S = 16;
  const auto x = randv(T * K, -1, 1, 1), wt = randv(K * N, -1, 1, 2), b = randv(N, -1, 1, 3);
  const auto dt = randv(T * E, 1e-3f, 0.1f, 4), u = randv(T * E, -1, 1, 5), sz = randv(T * E, 0, 1, 6);
  const auto bb = randv(T * S, -1, 1, 7), cc = randv(T * S, -1, 1, 8), at = randv(S * E, -16, -1, 9);
  const auto d = randv(E, 0, 1, 10);
  std::vector<const ssm::KernelTable*> tables = {&ssm::reference_kernels(), &ssm::baseline_kernels()};
  if (auto a = ssm::avx2_kernels())
    tables.push_back(a);
  std::vector<float> y_ref(T * N), ys_ref(T * E);
  {
    const auto& r = ssm::reference_kernels();
    r.linear({x.data(), K, T, K, wt.data(), b.data(), N, y_ref.data(), N, false});
    std::vector<float> h(S * E);
    r.mamba1_scan({T, E, S, E, dt.data(), u.data(), sz.data(), bb.data(), cc.data(), S, at.data(), d.data(), h.data(),
                   ys_ref.data()});
  }
  int failures = 0;
  std::printf("%-10s %12s %12s %14s %14s %12s\n", "kernels", "linear err", "scan err", "linear GFLOP/s", "scan Gelem/s",
              "peak GFLOP/s");
  for (const ssm::KernelTable* k : tables) {
    std::vector<float> y(T * N), ys(T * E), h(S * E);
    k->linear({x.data(), K, T, K, wt.data(), b.data(), N, y.data(), N, false});
    k->mamba1_scan({T, E, S, E, dt.data(), u.data(), sz.data(), bb.data(), cc.data(), S, at.data(), d.data(), h.data(),
                    ys.data()});
    const double el = max_rel(y, y_ref), es = max_rel(ys, ys_ref);
    const bool ok = el <= 1e-5 && es <= 1e-5;
    if (!ok) {
      ++failures;
      std::printf("%-10s %12.2e %12.2e   FAILED validation, not timed\n", k->isa, el, es);
      continue;
    }
    const double tl = best_seconds(
        [&] {
          k->linear({x.data(), K, T, K, wt.data(), b.data(), N, y.data(), N, false});
        },
        2000);
    const double ts = best_seconds(
        [&] {
          k->mamba1_scan({T, E, S, E, dt.data(), u.data(), sz.data(), bb.data(), cc.data(), S, at.data(), d.data(),
                          h.data(), ys.data()});
        },
        200);
    const auto peak = bench::measure_peak(*k);
    std::printf("%-10s %12.2e %12.2e %14.2f %14.3f %12.2f\n", k->isa, el, es, 2.0 * T * K * N / tl * 1e-9,
                double(T * E * S) / ts * 1e-9, peak.flops_per_s * 1e-9);
  }
  return failures ? 1 : 0;
}
