// SPDX-License-Identifier: GPL-3.0-or-later
// FrameRecorder: a FrameObserver that keeps every frame (tests, benchmarks,
// analysis). It allocates as frames arrive: never attach it to a stream on
// the audio thread.
#pragma once

#include <cstddef>
#include <vector>

#include "sidewinder/speech/voice_stream.h"

namespace sw::speech {

struct FrameRecorder : FrameObserver {
  explicit FrameRecorder(std::size_t n_mels = 80) : n_mels(n_mels) {}

  // Allocates (vector growth).
  void on_frame(std::size_t, const float* log_mel, float f0_hz, float voicing) noexcept override {
    mel.insert(mel.end(), log_mel, log_mel + n_mels);
    f0.push_back(f0_hz);
    voiced.push_back(voicing);
  }

  std::size_t n_mels;
  std::vector<float> mel;     // [frames, n_mels] log-mel, row-major
  std::vector<float> f0;      // [frames] Hz after pitch shift and override
  std::vector<float> voiced;  // [frames] voicing in (0, 1)
};

}  // namespace sw::speech
