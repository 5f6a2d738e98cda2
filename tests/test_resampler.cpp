// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "sidewinder/dsp/resampler.h"

using sw::dsp::Resampler;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> sine(double freq, double rate, std::size_t frames, float amp) {
  std::vector<float> out(frames);
  for (std::size_t i = 0; i < frames; ++i) {
    out[i] = amp * static_cast<float>(std::sin(2.0 * kPi * freq * static_cast<double>(i) / rate));
  }
  return out;
}

// Runs a whole stream through `r` in random-sized input chunks and random
// output capacities, then flushes. Interleaved with `channels` channels.
std::vector<float> run_stream(Resampler& r, const std::vector<float>& in, int channels, std::mt19937& rng) {
  const auto ch = static_cast<std::size_t>(channels);
  const std::size_t in_frames = in.size() / ch;
  std::vector<float> out;
  std::vector<float> block(4096 * ch);
  std::uniform_int_distribution<std::size_t> in_chunk(1, 1500);
  std::uniform_int_distribution<std::size_t> out_chunk(1, 4096);
  std::size_t pos = 0;
  while (pos < in_frames) {
    const std::size_t n = std::min(in_chunk(rng), in_frames - pos);
    std::size_t consumed = 0;
    const std::size_t produced = r.process(in.data() + pos * ch, n, &consumed, block.data(), out_chunk(rng));
    out.insert(out.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(produced * ch));
    pos += consumed;
  }
  for (;;) {
    const std::size_t produced = r.flush(block.data(), out_chunk(rng));
    if (produced == 0)
      break;
    out.insert(out.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(produced * ch));
  }
  return out;
}

// Frequency from positive-going zero crossings (linearly interpolated) over
// samples [begin, end) of channel `c`.
double zero_crossing_frequency(const std::vector<float>& x, int channels, int c, std::size_t begin, std::size_t end,
                               double rate) {
  const auto ch = static_cast<std::size_t>(channels);
  double first = -1.0;
  double last = -1.0;
  int crossings = 0;
  for (std::size_t i = begin + 1; i < end; ++i) {
    const double a = x[(i - 1) * ch + static_cast<std::size_t>(c)];
    const double b = x[i * ch + static_cast<std::size_t>(c)];
    if (a < 0.0 && b >= 0.0) {
      const double t = static_cast<double>(i - 1) + a / (a - b);
      if (first < 0.0)
        first = t;
      last = t;
      ++crossings;
    }
  }
  if (crossings < 2)
    return 0.0;
  return (crossings - 1) * rate / (last - first);
}

double rms(const std::vector<float>& x, int channels, int c, std::size_t begin, std::size_t end) {
  const auto ch = static_cast<std::size_t>(channels);
  double sum = 0.0;
  for (std::size_t i = begin; i < end; ++i) {
    const double v = x[i * ch + static_cast<std::size_t>(c)];
    sum += v * v;
  }
  return std::sqrt(sum / static_cast<double>(end - begin));
}

}  // namespace

TEST_CASE("Resampler::output_frames_for rounds up", "[dsp][resampler]") {
  CHECK(Resampler::output_frames_for(44100, 44100.0, 48000.0) == 48000);
  CHECK(Resampler::output_frames_for(1, 44100.0, 48000.0) == 2);
  CHECK(Resampler::output_frames_for(441, 44100.0, 48000.0) == 480);
  CHECK(Resampler::output_frames_for(100, 48000.0, 44100.0) == 92);  // 91.875
  CHECK(Resampler::output_frames_for(0, 48000.0, 44100.0) == 0);
}

TEST_CASE("Resampler rejects bad configurations", "[dsp][resampler]") {
  CHECK_THROWS_AS(Resampler(0.0, 48000.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(Resampler(44100.0, -1.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(Resampler(44100.0, 48000.0, 0), std::invalid_argument);
}

TEST_CASE("Resampler 44.1k -> 48k -> 44.1k keeps a 1 kHz sine", "[dsp][resampler]") {
  constexpr double kIn = 44100.0;
  constexpr double kOut = 48000.0;
  constexpr std::size_t kFrames = 44100;  // 1 s
  constexpr float kAmp = 0.5f;
  const std::vector<float> x = sine(1000.0, kIn, kFrames, kAmp);
  std::mt19937 rng(42);

  Resampler up(kIn, kOut, 1);
  const std::vector<float> y = run_stream(up, x, 1, rng);
  const auto expected_up = static_cast<long>(std::lround(kFrames * kOut / kIn));
  CHECK(std::labs(static_cast<long>(y.size()) - expected_up) <= 1);

  // Steady part: skip 50 ms at both ends (filter edges).
  const std::size_t y_skip = 2400;
  REQUIRE(y.size() > 2 * y_skip);
  CHECK(zero_crossing_frequency(y, 1, 0, y_skip, y.size() - y_skip, kOut) == Approx(1000.0).epsilon(1e-4));
  const double ref_rms = kAmp / std::sqrt(2.0);
  const double up_db = 20.0 * std::log10(rms(y, 1, 0, y_skip, y.size() - y_skip) / ref_rms);
  CHECK(std::fabs(up_db) < 0.1);

  Resampler down(kOut, kIn, 1, Resampler::Quality::very_high);
  const std::vector<float> z = run_stream(down, y, 1, rng);
  const auto expected_down = static_cast<long>(std::lround(static_cast<double>(y.size()) * kIn / kOut));
  CHECK(std::labs(static_cast<long>(z.size()) - expected_down) <= 1);
  CHECK(std::labs(static_cast<long>(z.size()) - static_cast<long>(kFrames)) <= 2);

  const std::size_t z_skip = 2205;
  REQUIRE(z.size() > 2 * z_skip);
  CHECK(zero_crossing_frequency(z, 1, 0, z_skip, z.size() - z_skip, kIn) == Approx(1000.0).epsilon(1e-4));
  const double down_db = 20.0 * std::log10(rms(z, 1, 0, z_skip, z.size() - z_skip) / ref_rms);
  CHECK(std::fabs(down_db) < 0.1);

  // soxr compensates its delay: the round trip lines up with the input.
  double max_err = 0.0;
  for (std::size_t i = z_skip; i + z_skip < std::min(z.size(), x.size()); ++i) {
    max_err = std::max(max_err, static_cast<double>(std::fabs(z[i] - x[i])));
  }
  CHECK(max_err < 1e-3);
}

TEST_CASE("Resampler at the same rate passes the signal through", "[dsp][resampler]") {
  const std::vector<float> x = sine(440.0, 48000.0, 10000, 0.8f);
  std::mt19937 rng(7);
  Resampler same(48000.0, 48000.0, 1);
  const std::vector<float> y = run_stream(same, x, 1, rng);
  REQUIRE(y.size() == x.size());
  double max_err = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    max_err = std::max(max_err, static_cast<double>(std::fabs(y[i] - x[i])));
  }
  CHECK(max_err < 1e-6);
}

TEST_CASE("Resampler keeps stereo channels separate", "[dsp][resampler]") {
  constexpr std::size_t kFrames = 22050;
  const std::vector<float> left = sine(1000.0, 44100.0, kFrames, 0.9f);
  std::vector<float> stereo(2 * kFrames, 0.0f);
  for (std::size_t i = 0; i < kFrames; ++i)
    stereo[2 * i] = left[i];

  std::mt19937 rng(3);
  Resampler r(44100.0, 48000.0, 2);
  const std::vector<float> y = run_stream(r, stereo, 2, rng);
  REQUIRE(y.size() % 2 == 0);
  float right_peak = 0.0f;
  float left_peak = 0.0f;
  for (std::size_t i = 0; i < y.size() / 2; ++i) {
    left_peak = std::max(left_peak, std::fabs(y[2 * i]));
    right_peak = std::max(right_peak, std::fabs(y[2 * i + 1]));
  }
  CHECK(left_peak > 0.8f);
  CHECK(right_peak < 1e-5f);  // below -100 dBFS
}

TEST_CASE("Resampler reset starts a fresh stream with the same result", "[dsp][resampler]") {
  const std::vector<float> x = sine(1000.0, 44100.0, 4410, 0.5f);
  Resampler r(44100.0, 48000.0, 1);
  std::mt19937 rng1(11);
  const std::vector<float> a = run_stream(r, x, 1, rng1);
  r.reset();
  CHECK(r.delay_frames() == Approx(0.0).margin(1e-9));
  std::mt19937 rng2(12);
  const std::vector<float> b = run_stream(r, x, 1, rng2);
  REQUIRE(a.size() == b.size());
  double max_diff = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[i] - b[i])));
  CHECK(max_diff < 1e-6);

  // delay_frames() reports what is buffered but not yet produced.
  Resampler d(44100.0, 48000.0, 1);
  std::vector<float> out(2000);
  std::size_t consumed = 0;
  CHECK(d.process(x.data(), 1000, &consumed, out.data(), 0) == 0);  // no room: nothing happens
  CHECK(d.process(x.data(), 1000, &consumed, out.data(), out.size()) < 1088);
  CHECK(consumed == 1000);
  CHECK(d.delay_frames() > 0.0);
}
