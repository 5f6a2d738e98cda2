// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/dsp/block_resampler.h"

#include <soxr.h>

#include "soxr_create.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

namespace sw::dsp {
namespace {

// Warm-up chunks of silence: with 200, 44.1 -> 48 kHz still allocated once
// in the next 50 000 calls; with 5 000, none did (docs/dsp.md).
constexpr int kWarmupChunks = 5000;

// Warm-up chunks, rounded up so that the warm-up ends on an output sample:
// for integer rates in, out with g = gcd(in, out), after W input frames the
// output grid sits at W·out/in, an integer when W is a multiple of in/g. The
// signal that follows then starts exactly on the output grid, and the
// resampler's delay is a whole number of output frames (up to soxr's own
// filter alignment), so a chain up and back down has an integer latency.
int warmup_chunks(double in_rate, double out_rate) {
  const double ri = std::round(in_rate), ro = std::round(out_rate);
  if (ri != in_rate || ro != out_rate || ri > 1e7 || ro > 1e7)
    return kWarmupChunks;
  const long in = static_cast<long>(ri), out = static_cast<long>(ro);
  const long period = in / std::gcd(in, out);                                           // input frames
  const long q = period / std::gcd(period, static_cast<long>(BlockResampler::kChunk));  // chunks
  if (q > kWarmupChunks)
    return kWarmupChunks;
  return static_cast<int>((kWarmupChunks + q - 1) / q * q);
}

}  // namespace

BlockResampler::~BlockResampler() {
  if (handle_ != nullptr)
    soxr_delete(handle_);
}

void BlockResampler::prepare(double in_rate, double out_rate, int channels, std::size_t max_in_frames) {
  if (!(in_rate > 0.0) || !(out_rate > 0.0) || !std::isfinite(in_rate) || !std::isfinite(out_rate))
    throw std::invalid_argument("block resampler: sample rates must be positive");
  if (channels <= 0 || channels > 64)
    throw std::invalid_argument("block resampler: channel count must be 1..64 (got " + std::to_string(channels) + ")");
  if (max_in_frames == 0 || max_in_frames > (1u << 20))
    throw std::invalid_argument("block resampler: max_in_frames must be 1..1048576");
  if (handle_ != nullptr) {
    soxr_delete(handle_);
    handle_ = nullptr;
  }
  handle_ = detail::create_soxr(in_rate, out_rate, channels, SOXR_HQ, "block resampler");
  channels_ = channels;
  max_in_ = max_in_frames;
  const double ratio = out_rate / in_rate;
  max_out_per_chunk_ = static_cast<std::size_t>(std::ceil(kChunk * ratio)) + 16;
  // chunks one call can complete, times the output of each
  max_out_per_call_ = (max_in_frames / kChunk + 1) * max_out_per_chunk_;
  pending_.assign(kChunk * channels, 0.0f);
  pending_frames_ = 0;
  out_.assign((2 * max_out_per_call_ + max_out_per_chunk_) * channels, 0.0f);
  out_begin_ = out_end_ = 0;
  overruns_ = 0;
  failed_ = false;
  const int warmup = warmup_chunks(in_rate, out_rate);
  for (int i = 0; i < warmup && !failed_; ++i) {
    if (!run_chunk(pending_.data()))  // silence
      throw std::runtime_error("block resampler: soxr failed while warming up");
    out_begin_ = out_end_ = 0;  // the warm-up's output (silence) is dropped
  }
  delay_ = soxr_delay(handle_);
}

void BlockResampler::prime(std::size_t frames) {
  std::vector<float> zeros(kChunk * static_cast<std::size_t>(channels_), 0.0f);
  while (frames > 0) {
    const std::size_t n = std::min(frames, kChunk);
    process(zeros.data(), n, nullptr, 0);
    frames -= n;
  }
}

bool BlockResampler::run_chunk(const float* chunk) noexcept {
  const std::size_t cap_frames = out_.size() / channels_;
  if (out_end_ + max_out_per_chunk_ > cap_frames) {  // compact: move the live output to the front
    const std::size_t live = out_end_ - out_begin_;
    std::memmove(out_.data(), out_.data() + out_begin_ * channels_, live * channels_ * sizeof(float));
    out_begin_ = 0;
    out_end_ = live;
    if (out_end_ + max_out_per_chunk_ > cap_frames) {  // still full: drop the oldest
      const std::size_t drop = out_end_ + max_out_per_chunk_ - cap_frames;
      std::memmove(out_.data(), out_.data() + drop * channels_, (live - drop) * channels_ * sizeof(float));
      out_end_ -= drop;
      overruns_ += drop;
    }
  }
  std::size_t idone = 0, odone = 0;
  const soxr_error_t e =
      soxr_process(handle_, chunk, kChunk, &idone, out_.data() + out_end_ * channels_, max_out_per_chunk_, &odone);
  if (e != nullptr || idone != kChunk) {
    failed_ = true;
    return false;
  }
  out_end_ += odone;
  return true;
}

std::size_t BlockResampler::process(const float* in, std::size_t n, float* out, std::size_t out_capacity) noexcept {
  if (handle_ == nullptr || failed_)
    return 0;
  if (n > max_in_)
    n = max_in_;
  const std::size_t C = static_cast<std::size_t>(channels_);
  std::size_t i = 0;
  while (i < n) {
    if (pending_frames_ == 0 && n - i >= kChunk) {  // a whole chunk straight from the caller
      if (!run_chunk(in + i * C))
        return 0;
      i += kChunk;
      continue;
    }
    const std::size_t take = std::min(kChunk - pending_frames_, n - i);
    std::memcpy(pending_.data() + pending_frames_ * C, in + i * C, take * C * sizeof(float));
    pending_frames_ += take;
    i += take;
    if (pending_frames_ == kChunk) {
      pending_frames_ = 0;
      if (!run_chunk(pending_.data()))
        return 0;
    }
  }
  const std::size_t give = std::min(out_capacity, available());
  if (give == 0)
    return 0;
  std::memcpy(out, out_.data() + out_begin_ * C, give * C * sizeof(float));
  out_begin_ += give;
  if (out_begin_ == out_end_)
    out_begin_ = out_end_ = 0;
  return give;
}

}  // namespace sw::dsp
