// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>

#include "sidewinder/realtime.h"

struct soxr;  // libsoxr's opaque resampler (soxr_t is `struct soxr*`)

namespace sw::dsp {

// Streaming sample-rate converter for interleaved float32 audio, wrapping
// libsoxr (single-threaded: soxr's OpenMP threading is switched off).
//
// Usage: call process() with successive chunks of input, then flush()
// repeatedly until it returns 0 at the end of the stream. reset() starts a
// new stream with the same configuration. Output is aligned with the input
// (soxr removes its filter delay), so after flush() the total output length
// is round(total_input * out_rate / in_rate), give or take one frame.
//
// Not real-time safe: libsoxr may allocate or grow internal buffers while
// processing (chiefly during the first calls). Use it on offline/render
// paths, or on a worker thread that feeds the audio thread through a ring.
// One instance must not be used from two threads at once.
class Resampler {
 public:
  enum class Quality { quick, medium, high, very_high };

  // Creates the resampler. Allocates; throws std::invalid_argument for
  // non-positive rates or channel counts and std::runtime_error carrying
  // soxr's message if soxr refuses the configuration.
  Resampler(double in_rate, double out_rate, int channels, Quality quality = Quality::high);
  ~Resampler();  // frees soxr's state; not real-time safe

  // Moves transfer the soxr state; a moved-from Resampler may only be
  // destroyed or assigned to. No allocation.
  Resampler(Resampler&& other) noexcept;
  Resampler& operator=(Resampler&& other) noexcept;
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // Feeds up to `in_frames` frames from `in` (may be null when in_frames is
  // 0) and writes at most `out_capacity_frames` frames to `out`. Stores the
  // number of input frames consumed in *in_consumed (if not null; unconsumed
  // input must be offered again) and returns the number of frames written.
  // May allocate inside libsoxr; throws std::runtime_error on a soxr error.
  std::size_t process(const float* in, std::size_t in_frames, std::size_t* in_consumed, float* out,
                      std::size_t out_capacity_frames);

  // Signals end of input and drains the remaining output into `out`. Call
  // repeatedly until it returns 0; after that only reset() makes the
  // resampler accept input again. May allocate inside libsoxr; throws
  // std::runtime_error on a soxr error.
  std::size_t flush(float* out, std::size_t out_capacity_frames);

  // The current delay between input and output, in output frames (what has
  // been fed but not yet produced). Does not allocate, does not block.
  SW_REALTIME double delay_frames() const noexcept;

  // Discards all state and starts a fresh stream with the same settings.
  // Not real-time safe (soxr may reallocate); throws std::runtime_error on a
  // soxr error.
  void reset();

  // The configuration. Trivial getters; real-time safe.
  SW_REALTIME double in_rate() const noexcept { return in_rate_; }
  SW_REALTIME double out_rate() const noexcept { return out_rate_; }
  SW_REALTIME int channels() const noexcept { return channels_; }

  // ceil(in_frames * out_rate / in_rate): an upper bound on the output a
  // whole stream of in_frames input frames produces (plus one frame of slack
  // is advisable for buffer sizing). Pure arithmetic; real-time safe.
  SW_REALTIME static std::size_t output_frames_for(std::size_t in_frames, double in_rate, double out_rate) noexcept;

 private:
  ::soxr* handle_ = nullptr;  // soxr_t
  double in_rate_ = 0.0;
  double out_rate_ = 0.0;
  int channels_ = 0;
};

}  // namespace sw::dsp
