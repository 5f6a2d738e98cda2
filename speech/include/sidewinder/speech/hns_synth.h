// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sidewinder/realtime.h"
#include "sidewinder/speech/synth_spec.h"

namespace sw::speech {

// The parameters of one 10 ms frame, as the synthesiser consumes them.
struct FrameParams {
  float f0 = 0;              // Hz
  std::vector<float> amps;   // [K] harmonic amplitudes
  std::vector<float> gains;  // [Bn] noise-band gains
};

// One frame's log-mel spectrum, f0 and voicing -> harmonic amplitudes and
// noise-band gains that reproduce it (the formulas: docs/speech.md;
// ref: training/speech/voice.py hns_frames). scratch: [F + 1] doubles.
// Allocation-free.
SW_REALTIME void hns_frame(const SynthTables& t, const float* log_mel /*[M]*/, float f0, float voiced,
                           float* amps /*[K]*/, float* gains /*[Bn]*/, double* scratch /*[F+1]*/) noexcept;

// Uniform white noise of unit variance in [-sqrt 3, sqrt 3): SplitMix64
// (Steele, Lea, Flood 2014), top 24 bits. The Python reference
// (tests/reference/voice_reference.py) generates the same sequence.
struct NoiseSource {
  std::uint64_t state = 0;
  SW_REALTIME float next() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = double(z >> 40) * (1.0 / 16777216.0);
    return float((2.0 * u - 1.0) * 1.7320508075688772);
  }
};

// Streaming harmonic-plus-noise synthesis. Frame values are interpolated
// linearly from frame t to frame t+1 across frame t's hop, so frame t's
// samples are rendered once frame t+1 is known: one frame of look-ahead.
//
//   prepare()       allocates (off the audio thread).
//   reset(seed)     back to phase 0, empty noise history; noise from `seed`.
//   push(f0, a, g)  the next frame; renders the previous frame's hop into
//                   out (returns hop samples, 0 for the very first frame).
//   finish(out)     renders the last frame, held (hop samples).
// push/finish/reset are allocation-free and lock-free.
class HnsSynth {
 public:
  SW_NONREALTIME void prepare(const SynthTables& tables);
  SW_REALTIME void reset(std::uint64_t seed) noexcept;
  SW_REALTIME std::size_t push(float f0, const float* amps, const float* gains, float* out) noexcept;
  SW_REALTIME std::size_t finish(float* out) noexcept;
  int hop() const noexcept { return hop_; }

 private:
  SW_REALTIME void render(const float* next_amps, const float* next_gains, float next_f0, float* out) noexcept;

  const SynthTables* t_ = nullptr;
  int hop_ = 0, K_ = 0, Bn_ = 0, L_ = 0;
  bool have_frame_ = false;
  double phase_ = 0;  // cycles, [0, 1)
  NoiseSource noise_;
  float cur_f0_ = 0;
  std::vector<float> cur_amps_, cur_gains_;  // [K], [Bn]: frame t
  std::vector<float> hist_;                  // [L - 1 + hop]: noise, oldest first
  std::vector<float> h0_, dh_;               // [L]: sum_b g_b h_b and sum_b (g'_b - g_b) h_b
};

// The obvious reference for a whole utterance (double precision, std::sin per
// harmonic, each noise band filtered on its own): frames f0 [T], amps [T, K],
// gains [T, Bn], noise [T * hop] -> samples [T * hop]. ref: voice.py
// synthesise_mel (after hns_frames).
std::vector<double> hns_reference(const SynthSpec& spec, const std::vector<float>& f0, const std::vector<float>& amps,
                                  const std::vector<float>& gains, const std::vector<float>& noise);

}  // namespace sw::speech
