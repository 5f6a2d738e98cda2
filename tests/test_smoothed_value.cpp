// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "sidewinder/dsp/smoothed_value.h"

using sw::dsp::SmoothedValue;

TEST_CASE("db_to_gain and gain_to_db", "[dsp][smoothed_value]") {
  CHECK(sw::dsp::db_to_gain(0.0f) == Approx(1.0f));
  CHECK(sw::dsp::db_to_gain(-6.0206f) == Approx(0.5f).epsilon(1e-4));
  CHECK(sw::dsp::db_to_gain(20.0f) == Approx(10.0f));
  CHECK(sw::dsp::db_to_gain(-INFINITY) == 0.0f);
  CHECK(sw::dsp::gain_to_db(0.1f) == Approx(-20.0f));
  CHECK(sw::dsp::gain_to_db(0.0f) == -200.0f);
}

TEST_CASE("SmoothedValue ramps linearly and lands exactly on the target", "[dsp][smoothed_value]") {
  for (const float target : {1.0f, -0.37f, 3.0e-3f, 12.5f}) {
    for (const double seconds : {0.001, 0.05, 1.0}) {
      SmoothedValue v(0.25f);
      v.prepare(48000.0, seconds);
      const auto ramp = static_cast<int>(v.ramp_samples());
      REQUIRE(ramp == static_cast<int>(std::lround(48000.0 * seconds)));
      CHECK(v.current() == 0.25f);

      v.set_target(target);
      REQUIRE(v.is_smoothing());
      const float start = 0.25f;
      const double max_step = std::fabs(static_cast<double>(target) - start) / ramp;
      const double eps = 1e-6 * std::max(1.0, std::fabs(static_cast<double>(target)));
      float prev = start;
      const bool up = target > start;
      for (int i = 0; i < ramp; ++i) {
        const float x = v.next();
        // monotone
        if (up) {
          REQUIRE(x >= prev);
        } else {
          REQUIRE(x <= prev);
        }
        // bounded step
        REQUIRE(std::fabs(static_cast<double>(x) - prev) <= max_step + eps);
        prev = x;
        if (i + 1 < ramp)
          REQUIRE(v.is_smoothing());
      }
      CHECK(prev == target);  // exact
      CHECK_FALSE(v.is_smoothing());
      CHECK(v.next() == target);
      CHECK(v.current() == target);
    }
  }
}

TEST_CASE("SmoothedValue apply/apply_interleaved multiply by the ramp", "[dsp][smoothed_value]") {
  SmoothedValue ref(1.0f);
  SmoothedValue mono(1.0f);
  SmoothedValue stereo(1.0f);
  for (SmoothedValue* v : {&ref, &mono, &stereo}) {
    v->prepare(1000.0, 0.1);  // 100 samples
    v->set_target(0.0f);
  }
  std::vector<float> buf(150, 2.0f);
  std::vector<float> inter(300, 2.0f);
  mono.apply(buf.data(), 60);       // crosses from ramp ...
  mono.apply(buf.data() + 60, 90);  // ... to the constant tail
  stereo.apply_interleaved(inter.data(), 150, 2);
  for (std::size_t i = 0; i < 150; ++i) {
    const float g = ref.next();
    REQUIRE(buf[i] == 2.0f * g);
    REQUIRE(inter[2 * i] == 2.0f * g);
    REQUIRE(inter[2 * i + 1] == 2.0f * g);
  }
  CHECK(buf[149] == 0.0f);
  CHECK_FALSE(mono.is_smoothing());
}

TEST_CASE("SmoothedValue retargets mid-ramp, snaps, and ignores repeats", "[dsp][smoothed_value]") {
  SmoothedValue v(0.0f);
  v.prepare(100.0, 0.1);  // 10 samples
  v.set_target(1.0f);
  for (int i = 0; i < 5; ++i)
    v.next();
  CHECK(v.current() == Approx(0.5f));
  v.set_target(1.0f);  // same target: ramp continues unchanged
  v.next();
  CHECK(v.current() == Approx(0.6f));
  v.set_target(0.0f);  // new ramp from 0.6 down to 0 over 10 samples
  for (int i = 0; i < 9; ++i)
    REQUIRE(v.next() > 0.0f);
  CHECK(v.next() == 0.0f);

  v.set_target(0.8f);
  v.snap();
  CHECK(v.current() == 0.8f);
  CHECK_FALSE(v.is_smoothing());

  SmoothedValue immediate(0.0f);
  immediate.prepare(48000.0, 0.0);
  immediate.set_target(0.3f);
  CHECK_FALSE(immediate.is_smoothing());
  CHECK(immediate.next() == 0.3f);
}
