// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "sidewinder/realtime.h"

namespace sw::dsp {

// Decibels to linear gain (0 dB -> 1, -inf dB -> 0). Real-time safe.
SW_REALTIME inline float db_to_gain(float db) noexcept {
  return std::pow(10.0f, db * 0.05f);
}

// Linear gain to decibels, clamped below at `floor_db` (so silence gives
// floor_db rather than -inf). Real-time safe.
SW_REALTIME inline float gain_to_db(float gain, float floor_db = -200.0f) noexcept {
  const float g = std::fabs(gain);
  if (!(g > 0.0f))
    return floor_db;
  const float db = 20.0f * std::log10(g);
  return db > floor_db ? db : floor_db;
}

// A parameter (gain, mix, ...) that follows its target along a linear ramp of
// a fixed length, so that changes do not click. Single-threaded: the audio
// thread owns it (feed targets from elsewhere through an atomic and call
// set_target() on the audio thread). Every method is allocation-free and
// noexcept; all but prepare() are real-time safe, and prepare() is too in
// practice (it only computes the ramp length), but belongs to set-up.
//
// The ramp is computed as start + k * step in double precision, so it is
// monotone, reaches the target exactly after ramp_samples() steps, and no
// step exceeds |target - start| / ramp_samples() by more than one float ulp.
class SmoothedValue {
 public:
  explicit SmoothedValue(float initial = 0.0f) noexcept : current_(initial), target_(initial), start_(initial) {}

  // Sets the ramp length to round(sample_rate * ramp_seconds) samples (0 means
  // changes are immediate) and snaps to the target. Non-real-time by intent
  // (set-up); does not allocate or block.
  SW_NONREALTIME void prepare(double sample_rate, double ramp_seconds) noexcept {
    const double samples = sample_rate * ramp_seconds;
    ramp_samples_ = (samples > 0.0 && std::isfinite(samples)) ? static_cast<std::int64_t>(std::llround(samples)) : 0;
    snap();
  }

  // Starts a ramp from the current value to `target` lasting ramp_samples().
  // Setting the same target again does not restart the ramp. Real-time safe.
  SW_REALTIME void set_target(float target) noexcept {
    if (target == target_)
      return;
    target_ = target;
    if (ramp_samples_ <= 0) {
      snap();
      return;
    }
    start_ = current_;
    step_ = (static_cast<double>(target_) - start_) / static_cast<double>(ramp_samples_);
    steps_left_ = ramp_samples_;
  }

  // Jumps to `value` immediately (no ramp). Real-time safe.
  SW_REALTIME void set_current_and_target(float value) noexcept {
    target_ = value;
    snap();
  }

  // Advances one sample and returns the new value. Real-time safe.
  SW_REALTIME float next() noexcept {
    if (steps_left_ <= 0)
      return current_;
    --steps_left_;
    if (steps_left_ == 0) {
      current_ = target_;
    } else {
      const double k = static_cast<double>(ramp_samples_ - steps_left_);
      current_ = static_cast<float>(start_ + step_ * k);
    }
    return current_;
  }

  // Multiplies buf[0..n) by the (advancing) value. Real-time safe.
  SW_REALTIME void apply(float* buf, std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i < n && steps_left_ > 0; ++i)
      buf[i] *= next();
    if (i == n)
      return;
    const float g = current_;
    if (g == 1.0f)
      return;
    for (; i < n; ++i)
      buf[i] *= g;
  }

  // Multiplies an interleaved buffer of `frames` frames of `channels`
  // channels; the value advances once per frame. Real-time safe.
  SW_REALTIME void apply_interleaved(float* buf, std::size_t frames, int channels) noexcept {
    if (channels <= 0)
      return;
    const std::size_t ch = static_cast<std::size_t>(channels);
    std::size_t f = 0;
    for (; f < frames && steps_left_ > 0; ++f) {
      const float g = next();
      for (std::size_t c = 0; c < ch; ++c)
        buf[f * ch + c] *= g;
    }
    if (f == frames)
      return;
    const float g = current_;
    if (g == 1.0f)
      return;
    for (std::size_t i = f * ch; i < frames * ch; ++i)
      buf[i] *= g;
  }

  // True while a ramp is in progress. Real-time safe.
  SW_REALTIME bool is_smoothing() const noexcept { return steps_left_ > 0; }

  // The value last returned by next() (or the snapped value). Real-time safe.
  SW_REALTIME float current() const noexcept { return current_; }

  // The value the ramp is heading to. Real-time safe.
  SW_REALTIME float target() const noexcept { return target_; }

  // Ends any ramp, jumping to the target. Real-time safe.
  SW_REALTIME void snap() noexcept {
    current_ = target_;
    start_ = target_;
    step_ = 0.0;
    steps_left_ = 0;
  }

  // Ramp length in samples, as set by prepare(). Real-time safe.
  SW_REALTIME std::int64_t ramp_samples() const noexcept { return ramp_samples_; }

 private:
  float current_;
  float target_;
  double start_;
  double step_ = 0.0;
  std::int64_t ramp_samples_ = 0;
  std::int64_t steps_left_ = 0;
};

}  // namespace sw::dsp
