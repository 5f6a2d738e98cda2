// SPDX-License-Identifier: GPL-3.0-or-later
// Live controls over everything the daemon speaks, set from MIDI (or any
// thread), read by the engine at every block and by the protocols at every
// request. Plain atomics: no allocation, no lock.
//
// The daemon's MIDI implementation chart (MidiVoiceChart), any channel:
//   note on n      every stream sings at n's pitch (440 * 2^((n - 69) / 12) Hz),
//                  the latest held note wins; note off returns to the one
//                  held before it, or to the voice's own intonation
//   CC 7           volume: v / 100 (0 .. 1.27), at once on every stream
//   CC 20          speaking rate of new requests: 0 -> 0.5x, 64 -> 1x, 127 -> 2x
//   program p      the p-th voice (as `describe` lists them) is the default
//                  for requests that name none
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sw::daemon {

struct VoiceControls {
  std::atomic<float> f0_hz{0.0f};   // > 0: the pitch every stream sings at
  std::atomic<float> volume{1.0f};  // x every stream's samples
  std::atomic<float> rate{1.0f};    // x the speaking rate of new requests
  std::atomic<int> voice{-1};       // >= 0: the default voice
};

class MidiVoiceChart {
 public:
  // One message; the owner's thread (it keeps the held notes).
  void apply(std::uint8_t status, std::uint8_t d1, std::uint8_t d2, VoiceControls& c, std::size_t voices) {
    const int type = status & 0xF0;
    if (type == 0x90 && d2 > 0) {
      held_.erase(std::remove(held_.begin(), held_.end(), d1), held_.end());
      held_.push_back(d1);
    } else if (type == 0x80 || (type == 0x90 && d2 == 0)) {
      held_.erase(std::remove(held_.begin(), held_.end(), d1), held_.end());
    } else if (type == 0xB0 && d1 == 7) {
      c.volume.store(float(d2) / 100.0f);
      return;
    } else if (type == 0xB0 && d1 == 20) {
      c.rate.store(float(std::pow(2.0, (double(d2) - 64.0) / 64.0)));
      return;
    } else if (type == 0xC0) {
      if (d1 < voices)
        c.voice.store(int(d1));
      return;
    } else {
      return;
    }
    c.f0_hz.store(held_.empty() ? 0.0f : float(440.0 * std::pow(2.0, (double(held_.back()) - 69.0) / 12.0)));
  }

 private:
  std::vector<int> held_;  // in the order pressed
};

}  // namespace sw::daemon
