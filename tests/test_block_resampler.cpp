// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "alloc_counter.h"
#include "sidewinder/dsp/block_resampler.h"

using sw::dsp::BlockResampler;

namespace {

// Feeds `in` (mono) in calls of the given sizes; returns all output.
std::vector<float> run(BlockResampler& r, const std::vector<float>& in, const std::vector<std::size_t>& sizes) {
  std::vector<float> out, buf(r.max_output_per_call());
  std::size_t pos = 0;
  for (std::size_t n : sizes) {
    const std::size_t got = r.process(in.data() + pos, n, buf.data(), buf.size());
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(got));
    pos += n;
  }
  return out;
}

std::vector<std::size_t> random_sizes(std::size_t total, std::size_t max, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> d(1, max);
  std::vector<std::size_t> s;
  while (total > 0) {
    const std::size_t n = std::min(total, d(rng));
    s.push_back(n);
    total -= n;
  }
  return s;
}

}  // namespace

TEST_CASE("block resampler: output does not depend on the host's block sizes", "[dsp][resampler]") {
  for (auto [a, b] : {std::pair{44100.0, 48000.0}, std::pair{48000.0, 44100.0}, std::pair{96000.0, 48000.0},
                      std::pair{48000.0, 48000.0}}) {
    INFO(a << " -> " << b);
    const std::size_t frames = 3 * 48000;
    std::vector<float> in(frames);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    for (auto& v : in)
      v = nd(rng);
    BlockResampler ref, r;
    ref.prepare(a, b, 1, 8192);
    r.prepare(a, b, 1, 8192);
    const auto y_ref = run(ref, in, std::vector<std::size_t>(frames / 64, 64));  // soxr's own chunking
    const auto y = run(r, in, random_sizes(frames, 8192, 3));
    REQUIRE(y.size() == y_ref.size());
    REQUIRE(y == y_ref);  // bit for bit
    REQUIRE(r.overruns() == 0);
    REQUIRE_FALSE(r.failed());
  }
}

TEST_CASE("block resampler: a sine comes out at the new rate with its amplitude", "[dsp][resampler]") {
  const double in_rate = 44100.0, out_rate = 48000.0, f = 1000.0;
  BlockResampler r;
  r.prepare(in_rate, out_rate, 1, 512);
  std::vector<float> in(2 * 44100);
  for (std::size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<float>(0.5 * std::sin(2.0 * M_PI * f * static_cast<double>(i) / in_rate));
  const auto y = run(r, in, random_sizes(in.size(), 512, 9));
  REQUIRE(y.size() > 60000);
  // skip the filter delay and settling, then fit amplitude and count zero crossings
  const std::size_t a = 4800, b = y.size() - 100;
  double peak = 0.0;
  int crossings = 0;
  for (std::size_t i = a; i < b; ++i) {
    peak = std::max(peak, std::abs(static_cast<double>(y[i])));
    if ((y[i - 1] < 0.0f) != (y[i] < 0.0f))
      ++crossings;
  }
  const double freq = crossings / 2.0 / (static_cast<double>(b - a) / out_rate);
  CHECK(peak == Approx(0.5).epsilon(0.01));
  CHECK(freq == Approx(f).epsilon(0.002));
  CHECK(r.delay_frames() > 0.0);
}

TEST_CASE("block resampler: process() allocates nothing once prepared", "[dsp][resampler][realtime]") {
  for (auto [a, b] : {std::pair{44100.0, 48000.0}, std::pair{48000.0, 44100.0}, std::pair{96000.0, 48000.0}}) {
    INFO(a << " -> " << b);
    BlockResampler r;
    r.prepare(a, b, 2, 8192);
    std::vector<float> in(2 * 8192, 0.1f), out(2 * r.max_output_per_call());
    const auto sizes = random_sizes(20 * 48000, 8192, 5);  // 20 s of stereo in host blocks of 1..8192
    sw::test::AllocationScope scope;
    for (std::size_t n : sizes)
      r.process(in.data(), n, out.data(), out.size() / 2);
    REQUIRE(scope.count() == 0);
    REQUIRE_FALSE(r.failed());
  }
}

TEST_CASE("block resampler: bad arguments are refused in prepare()", "[dsp][resampler]") {
  BlockResampler r;
  REQUIRE_THROWS_AS(r.prepare(0.0, 48000.0, 1, 64), std::invalid_argument);
  REQUIRE_THROWS_AS(r.prepare(48000.0, 48000.0, 0, 64), std::invalid_argument);
  REQUIRE_THROWS_AS(r.prepare(48000.0, 48000.0, 1, 0), std::invalid_argument);
  float x = 0.0f, y = 0.0f;
  REQUIRE(r.process(&x, 1, &y, 1) == 0);  // unprepared: nothing, no crash
}
