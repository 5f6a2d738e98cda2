// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <vector>

namespace sw::speech {

// Everything the harmonic-plus-noise synthesiser needs to know, read from the
// voice file (docs/speech.md, "The synthesiser"). The analysis it inverts is
// training/speech/voice.py's log_mel: Hann window of `win` samples in an
// n_fft-point STFT, power through triangular mel filters, natural log.
struct SynthSpec {
  int sample_rate = 16000;
  int hop = 160;           // samples per frame
  int n_mels = 80;         // M
  int n_fft = 1024;        // bins F = n_fft / 2 + 1
  int max_harmonics = 96;  // K
  int noise_bands = 24;    // Bn
  int noise_taps = 129;    // L
  double voiced_max_hz = 5000.0;
  double sine_energy = 61440.0;  // sum over positive bins of |X|^2 for a unit sine (Parseval)
  double noise_energy = 240.0;   // E|X_k|^2 per bin for unit-variance white noise
  double f0_min = 60.0, f0_max = 500.0;
  std::vector<float> noise_filters;    // [Bn, L] causal band-pass FIRs
  std::vector<double> mel_centres_hz;  // [M] ascending
  std::vector<double> mel_areas;       // [M] sum of each filter over the bins
  std::vector<double> noise_edges_hz;  // [Bn + 1] ascending

  int bins() const noexcept { return n_fft / 2 + 1; }
  double bin_hz() const noexcept { return double(sample_rate) / n_fft; }
  // Throws std::invalid_argument naming the first bad field.
  void validate() const;
};

// Tables derived from a SynthSpec once per voice (allocates; immutable after).
struct SynthTables {
  SynthSpec spec;
  std::vector<double> log_areas;  // [M]
  // For each bin f: log S(f) = (1 - frac[f]) log S_c[lo[f]] + frac[f] log S_c[lo[f] + 1]
  // (linear interpolation between band centres, ends held; = np.interp).
  std::vector<int> lo;               // [F]
  std::vector<double> frac;          // [F]
  std::vector<double> noise_mid_hz;  // [Bn] band midpoints

  explicit SynthTables(SynthSpec s);
};

}  // namespace sw::speech
