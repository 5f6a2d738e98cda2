// SPDX-License-Identifier: GPL-3.0-or-later
// Internal to dsp/: the one way this project creates a libsoxr resampler.
#pragma once

#include <soxr.h>

#include <stdexcept>
#include <string>

namespace sw::dsp::detail {

// Interleaved float32 in and out, the given recipe (SOXR_HQ, ...), one thread
// (soxr never spawns threads). Allocates; throws std::runtime_error with
// `who` and soxr's message if soxr refuses.
inline soxr_t create_soxr(double in_rate, double out_rate, int channels, unsigned long recipe, const char* who) {
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(recipe, 0);
  const soxr_runtime_spec_t rt = soxr_runtime_spec(1);
  soxr_error_t error = nullptr;
  soxr_t h = soxr_create(in_rate, out_rate, static_cast<unsigned>(channels), &error, &io, &q, &rt);
  if (error != nullptr || h == nullptr) {
    if (h != nullptr)
      soxr_delete(h);
    throw std::runtime_error(std::string(who) + ": cannot create: " + (error != nullptr ? error : "unknown error"));
  }
  return h;
}

}  // namespace sw::dsp::detail
