// SPDX-License-Identifier: GPL-3.0-or-later
// Each optimised kernel table against the scalar reference table, with an
// error budget per kernel (ggml test-backend-ops style). Budgets:
//  - exp/silu/softplus: relative error ≤ 1e-6 (vector exp/log ≤ 2 ulp, ~2.4e-7,
//    composed at most three times);
//  - linear: |y − ref| ≤ 8·K·ε·Σ_k|x_k w_kn| (ε = 2^-24; worst-case bound of a
//    K-term dot product in another summation order / with FMA, ×8 margin);
//  - conv, scans, rmsnorm: ≤ 1e-5 of the output's peak after many steps
//    (the exp error compounds through the recurrence).
#include <catch2/catch.hpp>
#include <random>
#include <tuple>

#include "test_util.h"

using namespace sw;
using ssm::KernelTable;

namespace {

std::vector<float> randv(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v)
    x = d(rng);
  return v;
}

std::vector<const KernelTable*> fast_tables() {
  std::vector<const KernelTable*> t = {&ssm::baseline_kernels()};
  if (auto a = ssm::avx2_kernels())
    t.push_back(a);
  return t;
}

}  // namespace

TEST_CASE("kernels: exp, silu, softplus against std::exp / std::log1p", "[kernels]") {
  const auto& ref = ssm::reference_kernels();
  auto x = randv(10007, -87.0f, 88.0f, 1);
  auto small = randv(4099, -30.0f, 30.0f, 2);
  x.insert(x.end(), small.begin(), small.end());
  x.push_back(20.0f), x.push_back(20.0001f), x.push_back(0.0f), x.push_back(-1e-30f);
  for (const KernelTable* k : fast_tables()) {
    INFO(k->isa);
    std::vector<float> a(x.size()), b(x.size());
    k->exp(x.data(), a.data(), x.size());
    ref.exp(x.data(), b.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
      REQUIRE(std::abs(a[i] - b[i]) <= 1e-6 * std::abs(b[i]));
    std::vector<float> xs(small);
    std::vector<float> s1(xs.size()), s2(xs.size());
    k->silu(xs.data(), s1.data(), xs.size());
    ref.silu(xs.data(), s2.data(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i)
      REQUIRE(std::abs(s1[i] - s2[i]) <= 1e-6 * std::abs(s2[i]) + 1e-30);
    k->softplus(xs.data(), s1.data(), xs.size());
    ref.softplus(xs.data(), s2.data(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("x=" << xs[i]);
      REQUIRE(std::abs(s1[i] - s2[i]) <= 1e-6 * std::abs(s2[i]) + 1e-37);
    }
  }
}

TEST_CASE("kernels: linear (tiles, tails, accumulate) against the loop", "[kernels]") {
  const auto& ref = ssm::reference_kernels();
  unsigned seed = 5;
  for (std::size_t rows : {1, 2, 3, 4, 5, 9, 64}) {
    for (std::size_t kk : {1, 3, 16, 33}) {
      for (std::size_t n : {1, 8, 13, 40, 130}) {
        const std::size_t np = ssm::pad_to_vector(n), xs = kk + 3, ys = np + 8;
        const auto x = randv(rows * xs, -1, 1, seed++);
        const auto wt = randv(kk * np, -1, 1, seed++);
        const auto bias = randv(np, -1, 1, seed++);
        const auto y0 = randv(rows * ys, -1, 1, seed++);
        for (bool acc : {false, true}) {
          std::vector<float> yr = y0, yk = y0;
          ref.linear({x.data(), xs, rows, kk, wt.data(), bias.data(), np, yr.data(), ys, acc});
          for (const KernelTable* k : fast_tables()) {
            yk = y0;
            k->linear({x.data(), xs, rows, kk, wt.data(), bias.data(), np, yk.data(), ys, acc});
            for (std::size_t t = 0; t < rows; ++t) {
              for (std::size_t j = 0; j < np; ++j) {
                double mag = std::abs(bias[j]) + (acc ? std::abs(y0[t * ys + j]) : 0);
                for (std::size_t q = 0; q < kk; ++q)
                  mag += std::abs(x[t * xs + q] * wt[q * np + j]);
                INFO(k->isa << " rows=" << rows << " k=" << kk << " n=" << n << " acc=" << acc);
                REQUIRE(std::abs(yk[t * ys + j] - yr[t * ys + j]) <= 8.0 * (kk + 2) * 6e-8 * mag);
              }
              // Columns past n_pad are never written.
              for (std::size_t j = np; j < ys; ++j)
                REQUIRE(yk[t * ys + j] == y0[t * ys + j]);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("kernels: conv+SiLU, rmsnorm, Mamba-1 and Mamba-2 scans", "[kernels]") {
  const auto& ref = ssm::reference_kernels();
  const std::size_t T = 200;
  for (const KernelTable* k : fast_tables()) {
    INFO(k->isa);
    {  // conv
      const std::size_t K = 4, cp = 24;
      const auto xc = randv((K - 1 + T) * cp, -2, 2, 1), w = randv(K * cp, -1, 1, 2), b = randv(cp, -1, 1, 3);
      std::vector<float> u1(T * cp), u2(T * cp);
      ref.conv_silu({xc.data(), cp, T, K, w.data(), b.data(), cp, u1.data()});
      k->conv_silu({xc.data(), cp, T, K, w.data(), b.data(), cp, u2.data()});
      REQUIRE(test::norm_err(u2, u1) <= 1e-6);
    }
    // rmsnorm: d 37 (scalar path), 8 / 16 / 32 (vector path), row counts with tails
    for (std::size_t d : {37, 8, 16, 32}) {
      for (std::size_t rows : {T, std::size_t(13), std::size_t(1)}) {
        const auto x = randv(rows * 40, -3, 3, 4), w = randv(d, 0.5, 1.5, 5);
        std::vector<float> y1(rows * 40), y2(rows * 40);
        ref.rmsnorm(x.data(), 40, rows, d, w.data(), 1e-5f, y1.data(), 40);
        k->rmsnorm(x.data(), 40, rows, d, w.data(), 1e-5f, y2.data(), 40);
        INFO("d=" << d << " rows=" << rows);
        REQUIRE(test::norm_err(y2, y1) <= 1e-6);
      }
    }
    // Mamba-2 step sizes: compact softplus and exp(dt·A), heads that do and do not divide the vector
    for (std::size_t H : {1, 2, 3, 4, 6, 8, 12}) {
      for (std::size_t rows : {std::size_t(1), std::size_t(5), std::size_t(64)}) {
        const std::size_t rs = ssm::pad_to_vector(H);
        const auto raw = randv(rows * rs, -8, 24, 30), a = randv(H, -2, -0.05f, 31);
        std::vector<float> dt1(rows * H), da1(rows * H), dt2(rows * H, -1.0f), da2(rows * H, -1.0f);
        ref.mamba2_dt(raw.data(), rs, rows, H, a.data(), dt1.data(), da1.data());
        k->mamba2_dt(raw.data(), rs, rows, H, a.data(), dt2.data(), da2.data());
        INFO("H=" << H << " rows=" << rows);
        for (std::size_t i = 0; i < rows * H; ++i) {
          REQUIRE(std::abs(dt2[i] - dt1[i]) <= 1e-6 * std::abs(dt1[i]) + 1e-37);
          // dA = exp(dt·A) carries dt's relative error times |dt·A|
          const double arg = std::abs(double(dt1[i]) * a[i % H]);
          REQUIRE(std::abs(da2[i] - da1[i]) <= (1e-6 * arg + 1e-6) * std::abs(da1[i]) + 1e-37);
        }
      }
    }
    // gated RMSNorm: d 48 in groups of 48, 24, 16 (vector paths), d 30 in groups of 10 and d 36
    // in groups of 12 (scalar fallback; 12 is vector on SSE2, scalar on AVX2)
    for (auto [d, groups] : {std::pair<std::size_t, std::size_t>{48, 1}, {48, 2}, {48, 3}, {30, 3}, {36, 3}}) {
      const std::size_t stride = 56;
      const auto y0 = randv(T * stride, -3, 3, 20), sz = randv(T * stride, -0.3f, 2, 21), w = randv(d, 0.5, 1.5, 22);
      auto y1 = y0, y2 = y0;
      ref.gated_rmsnorm(y1.data(), sz.data(), stride, T, d, groups, w.data(), 1e-5f);
      k->gated_rmsnorm(y2.data(), sz.data(), stride, T, d, groups, w.data(), 1e-5f);
      INFO("d=" << d << " groups=" << groups);
      REQUIRE(test::norm_err(y2, y1) <= 1e-6);
      REQUIRE(y1 != y0);
    }
    {  // Mamba-1 scan: e_pad 24, N 7
      const std::size_t ep = 24, N = 7;
      const auto dt = randv(T * ep, 1e-3f, 0.3f, 6), u = randv(T * ep, -2, 2, 7), sz = randv(T * ep, -1, 2, 8);
      const auto bc = randv(T * 8, -1, 1, 9), cc = randv(T * 8, -1, 1, 10), at = randv(N * ep, -16, -0.5f, 11);
      const auto d = randv(ep, 0, 2, 12);
      std::vector<float> h1(N * ep), h2(N * ep), y1(T * ep), y2(T * ep);
      ref.mamba1_scan({T, ep, N, ep, dt.data(), u.data(), sz.data(), bc.data(), cc.data(), 8, at.data(), d.data(),
                       h1.data(), y1.data()});
      k->mamba1_scan({T, ep, N, ep, dt.data(), u.data(), sz.data(), bc.data(), cc.data(), 8, at.data(), d.data(),
                      h2.data(), y2.data()});
      REQUIRE(test::norm_err(y2, y1) <= 1e-5);
      REQUIRE(test::norm_err(h2, h1) <= 1e-5);
    }
    // Mamba-2 scan, scalar and vector paths; vector blocks of 1..4 state vectors per group
    for (auto [P, H, G] : {std::tuple<std::size_t, std::size_t, std::size_t>{5, 4, 2},
                           {16, 4, 2},
                           {8, 2, 1},
                           {8, 6, 1},
                           {16, 6, 2},
                           {8, 3, 3}}) {
      const std::size_t N = 6, pp = ssm::pad_to_vector(P), E = H * P, xs = E + 2 * G * N + 3;
      const auto x = randv(T * xs, -2, 2, 13);
      auto dt = randv(T * 8, 1e-3f, 0.3f, 14);
      std::vector<float> da(T * 8);
      for (std::size_t i = 0; i < da.size(); ++i)
        da[i] = std::exp(-dt[i] * 3.0f);
      const auto d = randv(E, 0, 2, 15);
      for (bool per_ch : {false, true}) {
        std::vector<float> h1(H * N * pp), h2(H * N * pp), y1(T * E), y2(T * E);
        ssm::Mamba2ScanArgs a{T,         H,         P,         pp, N,        G,      x.data(),  xs,        E,
                              E + G * N, dt.data(), da.data(), 8,  d.data(), per_ch, h1.data(), y1.data(), E};
        ref.mamba2_scan(a);
        a.h = h2.data(), a.y = y2.data();
        k->mamba2_scan(a);
        INFO("P=" << P << " H=" << H << " G=" << G << " per_channel=" << per_ch);
        REQUIRE(test::norm_err(y2, y1) <= 1e-5);
      }
    }
  }
}
