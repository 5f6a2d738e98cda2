// SPDX-License-Identifier: GPL-3.0-or-later
// The effect's MIDI implementation chart (sidewinder live), any channel:
//   CC 7   output gain   0 -> -60 dB, 127 -> 0 dB (40 log10(v/127), MIDI's volume curve)
//   CC 20  input gain    0 -> -24 dB, 64 -> 0 dB, 127 -> +24 dB (linear in dB)
//   CC 21  dry/wet mix   v / 127
//   program change p     the p-th preset (the caller loads and publishes it)
// Plain function of one message; writes the parameters' atomics (any thread).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "sidewinder/fx/effect.h"

namespace sw::fx {

// Returns the program asked for, or -1.
inline int apply_midi(std::uint8_t status, std::uint8_t d1, std::uint8_t d2, EffectParameters& p) noexcept {
  const int type = status & 0xF0;
  if (type == 0xC0)
    return d1 & 0x7F;
  if (type != 0xB0)
    return -1;
  const double v = double(d2 & 0x7F);
  switch (d1) {
    case 7:
      p.output_gain_db.store(v <= 0 ? -60.0f : float(std::max(-60.0, 40.0 * std::log10(v / 127.0))));
      break;
    case 20:
      p.input_gain_db.store(float(v <= 64 ? -24.0 + 24.0 * v / 64.0 : 24.0 * (v - 64.0) / 63.0));
      break;
    case 21:
      p.mix.store(float(v / 127.0));
      break;
    default:
      break;
  }
  return -1;
}

}  // namespace sw::fx
