// SPDX-License-Identifier: GPL-3.0-or-later
// The CUDA backend against the CPU engine (label `gpu`: these run on the GPU
// machine, not in CI, which has no device; CI builds them).
//
// Reference: sw::ssm::Stream, the CPU engine (itself tested against the
// double-precision ReferenceModel and PyTorch's golden vectors).
// Tolerance: max |y_gpu − y_cpu| ≤ 2e-4 · max(1, max |y_cpu|). Both are fp32;
// they differ in summation order, FMA contraction and exp: the GPU scans use
// __expf (≈ 2 ulp) and a parallel association order, the CPU a polynomial
// exp and a sequential one. Each step's error is a few ulp (≈ 1e-7 relative);
// the SSM's decay (|a| < 1) forgets old errors instead of adding them up, and
// the norms keep every layer's scale at ≈ 1, so a few layers of a few ulp stay
// under 1e-5 — the bound leaves 20× headroom and still fails on any real
// mistake (a wrong index, a lost carry, a missed history sample: ≥ 1e-2).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "sidewinder/gpu/batch_engine.h"
#include "sidewinder/ssm/model_loader.h"
#include "sidewinder/ssm/stream.h"
#include "test_shapes.h"

using namespace sw;

namespace {

constexpr double kTolerance = 2e-4;

// A guitar-ish test signal per row: two partials, a slow envelope and noise.
std::vector<float> signal(std::size_t frames, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(-0.2f, 0.2f);
  const double f1 = 80.0 + 40.0 * (seed % 7), f2 = 997.0 + 13.0 * (seed % 5);
  std::vector<float> x(frames * channels);
  for (std::size_t t = 0; t < frames; ++t)
    for (int c = 0; c < channels; ++c) {
      const double env = 0.5 + 0.4 * std::sin(2 * M_PI * 1.3 * t / 48000.0 + c);
      x[t * channels + c] =
          float(env * (0.6 * std::sin(2 * M_PI * f1 * t / 48000.0) + 0.3 * std::sin(2 * M_PI * f2 * t / 48000.0 + c)) +
                noise(rng));
    }
  return x;
}

struct Pair {
  gpu::BatchEngine gpu;
  std::vector<ssm::Stream> cpu;
  std::vector<std::vector<float>> in;  // per row, the whole signal
  std::vector<std::size_t> at;         // per row, frames consumed
  double worst = 0;                    // max |Δ| / max(1, peak), over every call

  Pair(const ssm::ModelWeights& w, int rows, int window, std::size_t total)
      : gpu(w, gpu::BatchSpec{rows, window}), at(rows, 0) {
    auto model = ssm::Model::create(w);
    for (int r = 0; r < rows; ++r) {
      cpu.emplace_back(model);
      cpu.back().prepare(ssm::ProcessSpec{0.0, std::size_t(window)});
      in.push_back(signal(total, gpu.in_channels(), 11u + unsigned(r)));
    }
  }

  // Advance rows [0, rows) by frames on both engines; compare.
  void step(int rows, int frames) {
    const int ci = gpu.in_channels(), co = gpu.out_channels();
    const std::size_t W = std::size_t(gpu.spec().window);
    for (int r = 0; r < rows; ++r)
      std::copy_n(in[r].data() + at[r] * ci, std::size_t(frames) * ci, gpu.input() + r * W * ci);
    gpu.run(rows, frames);
    std::vector<float> want(std::size_t(frames) * co);
    for (int r = 0; r < rows; ++r) {
      cpu[r].process(in[r].data() + at[r] * ci, want.data(), std::size_t(frames));
      at[r] += std::size_t(frames);
      const float* got = gpu.output() + r * W * co;
      double peak = 0, diff = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        peak = std::max(peak, std::fabs(double(want[i])));
        diff = std::max(diff, std::fabs(double(got[i]) - double(want[i])));
      }
      REQUIRE(std::isfinite(diff));
      worst = std::max(worst, diff / std::max(1.0, peak));
    }
  }
};

}  // namespace

TEST_CASE("gpu: the device answers", "[gpu]") {
  std::string why;
  INFO(why);
  REQUIRE(gpu::cuda_available(&why));
  const gpu::DeviceInfo d = gpu::device_info();
  WARN("device: " << d.name << ", " << d.multiprocessors << " SMs, " << d.memory_gib << " GiB, driver " << d.driver);
  CHECK(d.multiprocessors > 0);
}

TEST_CASE("gpu: random models of odd shapes match the CPU engine, block by block", "[gpu]") {
  std::uint64_t seed = 101;
  for (const ssm::ModelConfig& cfg : test::shapes()) {
    const ssm::ModelWeights w = ssm::make_random_weights(cfg, seed++);
    Pair p(w, 5, 300, 2000);
    // Odd block sizes, a call for fewer rows (rows 3 and 4 must not move),
    // a row reset in the middle: the state is carried exactly across calls.
    for (int frames : {300, 1, 17, 256})
      p.step(5, frames);
    p.step(3, 123);
    p.gpu.reset_row(1);
    p.cpu[1].reset();
    for (int frames : {300, 77, 2})
      p.step(5, frames);
    INFO(ssm::describe(cfg));
    WARN(ssm::describe(cfg) << ": worst " << p.worst);
    CHECK(p.worst <= kTolerance);
  }
}

TEST_CASE("gpu: long windows (the scan's carry across many tiles) match the CPU engine", "[gpu]") {
  for (const char* name : {"fx-s", "fx-m2"}) {
    ssm::ModelConfig cfg = ssm::builtin_config(name);
    const ssm::ModelWeights w = ssm::make_random_weights(cfg, 7);
    const int window = 1 << 17;
    Pair p(w, 2, window, 3 * std::size_t(window));
    p.step(2, window);
    p.step(2, window - 4321);  // the state goes on into the next window
    p.step(1, 9999);
    WARN(name << ": worst " << p.worst);
    CHECK(p.worst <= kTolerance);
  }
}

TEST_CASE("gpu: every shipped preset matches the CPU engine", "[gpu]") {
  int n = 0;
  const char* dir = std::getenv("SW_PRESETS_DIR");  // the GPU machine's copy of the tree
  for (const auto& entry : std::filesystem::directory_iterator(dir ? dir : SW_PRESETS_DIR)) {
    if (entry.path().extension() != ".safetensors")
      continue;
    const ssm::ModelWeights w = ssm::load_model_weights(entry.path().string());
    Pair p(w, 4, 4096, 3 * 4096);
    p.step(4, 4096);
    p.step(4, 4096);
    p.step(4, 1000);
    WARN(entry.path().filename().string() << ": worst " << p.worst);
    CHECK(p.worst <= kTolerance);
    ++n;
  }
  CHECK(n >= 9);
}

TEST_CASE("gpu: out-of-range calls and unsupported shapes are refused with a clear error", "[gpu]") {
  const ssm::ModelWeights w = ssm::make_random_weights(ssm::builtin_config("fx-s"), 1);
  gpu::BatchEngine e(w, gpu::BatchSpec{4, 64});
  CHECK_THROWS_WITH(e.run(5, 64), Catch::Contains("outside the prepared 4 rows x 64 frames"));
  CHECK_THROWS_WITH(e.run(4, 65), Catch::Contains("outside the prepared"));
  CHECK_THROWS_AS(e.reset_row(4), std::invalid_argument);
  e.run(4, 0);  // nothing to do
  ssm::ModelConfig wide = ssm::builtin_config("fx-s");
  wide.d_model = 256, wide.d_inner = 512, wide.dt_rank = 16;
  CHECK_THROWS_WITH(gpu::BatchEngine(ssm::make_random_weights(wide, 2), gpu::BatchSpec{1, 64}),
                    Catch::Contains("wider than the CUDA backend"));
}
