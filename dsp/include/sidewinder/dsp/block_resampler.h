// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <vector>

#include "sidewinder/realtime.h"

struct soxr;  // libsoxr's opaque resampler

namespace sw::dsp {

// Sample-rate conversion for a real-time callback: libsoxr fed exactly
// kChunk input frames per call from a small FIFO, whatever block sizes the
// host delivers. Measured (docs/dsp.md): once warmed up with fixed-size
// chunks, libsoxr makes no allocations; with varying sizes it does. prepare()
// does the warm-up; process() is then allocation- and lock-free (tested with
// the allocation counter). The output is a delayed, resampled copy of the
// input (soxr's filter delay is not removed: a host reports it as latency),
// identical bit for bit whatever the partition of the input into calls.
//
// One instance per stream, one thread at a time. Interleaved float32.
class BlockResampler {
 public:
  static constexpr std::size_t kChunk = 64;  // frames handed to soxr per call

  BlockResampler() = default;
  ~BlockResampler();  // frees soxr's state; not real-time safe
  BlockResampler(const BlockResampler&) = delete;
  BlockResampler& operator=(const BlockResampler&) = delete;

  // Allocates every buffer for calls of up to max_in_frames frames, creates
  // libsoxr (high quality, one thread) and warms it up on silence. Not
  // real-time safe; throws std::invalid_argument on bad arguments and
  // std::runtime_error carrying soxr's message if it refuses.
  void prepare(double in_rate, double out_rate, int channels, std::size_t max_in_frames);

  // Feeds `frames` frames of silence whose output stays buffered (it comes
  // out first, before the output of later input): delays this resampler by
  // that many input frames. For set-up after prepare(), e.g. to align a chain
  // of two resamplers on a whole-frame latency. Not real-time by intent.
  SW_NONREALTIME void prime(std::size_t frames);

  // Takes n ≤ max_in_frames input frames, converts every full chunk, then
  // writes up to out_capacity frames of converted output (oldest first) and
  // returns how many. Output not taken stays buffered (up to
  // max_output_per_call() frames; beyond that the oldest is dropped and
  // counted in overruns()). Frames past max_in_frames are ignored. No
  // allocation, no lock, no exception; after a soxr error it outputs nothing
  // and failed() turns true.
  SW_REALTIME std::size_t process(const float* in, std::size_t n, float* out, std::size_t out_capacity) noexcept;

  // Converted frames buffered and not yet taken. Real-time safe.
  SW_REALTIME std::size_t available() const noexcept { return out_end_ - out_begin_; }
  // Output frames one call can produce at most (for sizing the caller's buffer). Real-time safe.
  SW_REALTIME std::size_t max_output_per_call() const noexcept { return max_out_per_call_; }
  // soxr's filter delay in output frames, as measured after the warm-up. Real-time safe.
  SW_REALTIME double delay_frames() const noexcept { return delay_; }
  SW_REALTIME std::size_t overruns() const noexcept { return overruns_; }
  SW_REALTIME bool failed() const noexcept { return failed_; }

 private:
  bool run_chunk(const float* chunk) noexcept;

  ::soxr* handle_ = nullptr;
  int channels_ = 0;
  std::size_t max_in_ = 0;
  std::size_t max_out_per_chunk_ = 0;
  std::size_t max_out_per_call_ = 0;
  std::vector<float> pending_;  // (kChunk, C): the partial chunk
  std::size_t pending_frames_ = 0;
  std::vector<float> out_;  // (capacity, C): converted output, [out_begin_, out_end_) valid
  std::size_t out_begin_ = 0, out_end_ = 0;
  double delay_ = 0.0;
  std::size_t overruns_ = 0;
  bool failed_ = false;
};

}  // namespace sw::dsp
