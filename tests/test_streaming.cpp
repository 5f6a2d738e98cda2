// SPDX-License-Identifier: GPL-3.0-or-later
// Streaming vs whole-signal vs every partition, and the packed engine against
// the C++ double-precision reference on random shapes (odd ones included).
#include <catch2/catch.hpp>
#include <cstring>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "sidewinder/ssm/model_weights.h"
#include "sidewinder/ssm/reference_model.h"
#include "test_shapes.h"
#include "test_util.h"

using namespace sw;

namespace {}  // namespace

TEST_CASE("streaming: every kernel table matches the double reference on random shapes", "[streaming]") {
  unsigned seed = 1;
  for (const ssm::ModelConfig& cfg : test::shapes()) {
    const ssm::ModelWeights w = ssm::make_random_weights(cfg, seed++);
    auto model = ssm::Model::create(w);
    const std::size_t frames = 300;
    const auto in = test::test_signal(frames, cfg.in_channels, seed);
    std::vector<float> ref(frames * cfg.out_channels);
    ssm::ReferenceModel rm(w);
    rm.process(in.data(), ref.data(), frames);
    for (const ssm::KernelTable* k : test::all_kernel_tables()) {
      INFO(ssm::describe(cfg) << " kernels=" << k->isa);
      const auto y = test::run_stream(model, k, in, test::partition(frames, 64));
      REQUIRE(test::norm_err(y, ref) <= 1e-5);
    }
  }
}

TEST_CASE("streaming: any partition gives the same output as the whole signal", "[streaming]") {
  unsigned seed = 10;
  for (const ssm::ModelConfig& cfg : test::shapes()) {
    auto model = ssm::Model::create(ssm::make_random_weights(cfg, seed++));
    const std::size_t frames = 1000;
    const auto in = test::test_signal(frames, cfg.in_channels, seed);
    for (const ssm::KernelTable* k : test::all_kernel_tables()) {
      const auto whole = test::run_stream(model, k, in, {frames});
      for (std::size_t block : {1, 7, 64, 333}) {
        INFO(ssm::describe(cfg) << " kernels=" << k->isa << " block=" << block);
        const auto y = test::run_stream(model, k, in, test::partition(frames, block));
        // Within one kernel table the order of operations per output does not
        // depend on the partition, so the outputs are bit-identical.
        REQUIRE(y == whole);
      }
      INFO("random partition, kernels=" << k->isa);
      REQUIRE(test::run_stream(model, k, in, test::partition(frames, 100, 99u), 100) == whole);
    }
  }
}

TEST_CASE("streaming: reset() returns to the state of a fresh stream", "[streaming]") {
  auto model = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config("fx-m"), 3));
  const auto in = test::test_signal(500, 1, 4);
  ssm::Stream s(model);
  s.prepare({48000, 128});
  std::vector<float> a(500), b(500);
  s.process(in.data(), a.data(), 500);
  s.reset();
  s.process(in.data(), b.data(), 500);
  REQUIRE(a == b);
  // ... and state does carry across calls: the second half differs from a fresh start.
  ssm::Stream fresh(model);
  fresh.prepare({48000, 128});
  std::vector<float> c(250);
  fresh.process(in.data() + 250, c.data(), 250);
  REQUIRE(std::memcmp(c.data(), a.data() + 250, 250 * sizeof(float)) != 0);
}

TEST_CASE("streaming: prepare refuses a wrong rate and a zero block size", "[streaming]") {
  auto model = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config("fx-s"), 3));
  ssm::Stream s(model);
  REQUIRE_THROWS_WITH(s.prepare({44100, 64}), Catch::Contains("48000"));
  REQUIRE_THROWS(s.prepare({48000, 0}));
  // Unprepared process writes silence instead of touching unallocated state.
  std::vector<float> in(16, 1.0f), out(16, 5.0f);
  s.process(in.data(), out.data(), 16);
  for (float x : out)
    REQUIRE(x == 0.0f);
}

TEST_CASE("streaming: denormal mode is set during process and restored after", "[streaming]") {
#if defined(__x86_64__)
  auto model = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config("fx-s"), 3));
  ssm::Stream s(model);
  s.prepare({48000, 64});
  const unsigned before = _mm_getcsr();
  std::vector<float> in(64, 0.1f), out(64);
  s.process(in.data(), out.data(), 64);
  REQUIRE(_mm_getcsr() == before);
  // Tiny inputs decay through the state without producing denormals.
  std::vector<float> tiny(4096, 1e-39f), o2(4096);
  s.process(tiny.data(), o2.data(), 4096);
  for (float x : o2)
    REQUIRE(std::fpclassify(x) != FP_SUBNORMAL);
#endif
}
