// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/dsp/resampler.h"

#include <soxr.h>

#include "soxr_create.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace sw::dsp {
namespace {

unsigned long soxr_recipe(Resampler::Quality quality) {
  switch (quality) {
    case Resampler::Quality::quick:
      return SOXR_QQ;
    case Resampler::Quality::medium:
      return SOXR_MQ;
    case Resampler::Quality::high:
      return SOXR_HQ;
    case Resampler::Quality::very_high:
      return SOXR_VHQ;
  }
  return SOXR_HQ;
}

[[noreturn]] void throw_soxr(const char* what, soxr_error_t error) {
  throw std::runtime_error(std::string("resampler: ") + what + ": " + soxr_strerror(error));
}

// soxr treats a null input pointer as end-of-input, so "no input right now"
// must be passed as a valid pointer with length 0.
const float kNoInput[1] = {0.0f};

}  // namespace

Resampler::Resampler(double in_rate, double out_rate, int channels, Quality quality)
    : in_rate_(in_rate), out_rate_(out_rate), channels_(channels) {
  if (!(in_rate > 0.0) || !(out_rate > 0.0) || !std::isfinite(in_rate) || !std::isfinite(out_rate)) {
    throw std::invalid_argument("resampler: sample rates must be positive (got " + std::to_string(in_rate) + " -> " +
                                std::to_string(out_rate) + ")");
  }
  if (channels <= 0) {
    throw std::invalid_argument("resampler: channel count must be positive (got " + std::to_string(channels) + ")");
  }
  handle_ = detail::create_soxr(in_rate, out_rate, channels, soxr_recipe(quality), "resampler");
}

Resampler::~Resampler() {
  if (handle_ != nullptr)
    soxr_delete(handle_);
}

Resampler::Resampler(Resampler&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      in_rate_(other.in_rate_),
      out_rate_(other.out_rate_),
      channels_(other.channels_) {}

Resampler& Resampler::operator=(Resampler&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr)
      soxr_delete(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    in_rate_ = other.in_rate_;
    out_rate_ = other.out_rate_;
    channels_ = other.channels_;
  }
  return *this;
}

std::size_t Resampler::process(const float* in, std::size_t in_frames, std::size_t* in_consumed, float* out,
                               std::size_t out_capacity_frames) {
  if (handle_ == nullptr)
    throw std::logic_error("resampler: used after move");
  if (in == nullptr || in_frames == 0) {
    in = kNoInput;
    in_frames = 0;
  }
  std::size_t idone = 0;
  std::size_t odone = 0;
  const soxr_error_t error = soxr_process(handle_, in, in_frames, &idone, out, out_capacity_frames, &odone);
  if (in_consumed != nullptr)
    *in_consumed = idone;
  if (error != nullptr)
    throw_soxr("process", error);
  return odone;
}

std::size_t Resampler::flush(float* out, std::size_t out_capacity_frames) {
  if (handle_ == nullptr)
    throw std::logic_error("resampler: used after move");
  if (out_capacity_frames == 0)
    return 0;
  std::size_t odone = 0;
  const soxr_error_t error = soxr_process(handle_, nullptr, 0, nullptr, out, out_capacity_frames, &odone);
  if (error != nullptr)
    throw_soxr("flush", error);
  return odone;
}

double Resampler::delay_frames() const noexcept {
  return handle_ != nullptr ? soxr_delay(handle_) : 0.0;
}

void Resampler::reset() {
  if (handle_ == nullptr)
    throw std::logic_error("resampler: used after move");
  const soxr_error_t error = soxr_clear(handle_);
  if (error != nullptr)
    throw_soxr("reset", error);
}

std::size_t Resampler::output_frames_for(std::size_t in_frames, double in_rate, double out_rate) noexcept {
  if (!(in_rate > 0.0) || !(out_rate > 0.0))
    return 0;
  // Multiply first: exact for integer rates and frame counts below 2^53, so
  // an exact integer result is not pushed up by rounding.
  return static_cast<std::size_t>(std::ceil(static_cast<double>(in_frames) * out_rate / in_rate));
}

}  // namespace sw::dsp
