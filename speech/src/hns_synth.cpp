// SPDX-License-Identifier: GPL-3.0-or-later
// The harmonic-plus-noise synthesiser: frame parameters from a log-mel
// spectrum (hns_frame), streaming rendering (HnsSynth), and the obvious
// whole-utterance reference (hns_reference) it is tested against.
// ref: training/speech/voice.py (hns_frames, synthesise_mel).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "sidewinder/speech/hns_synth.h"

namespace sw::speech {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;

// Energy of the bins below frequency f (Hz): C [F+1] prefix sums of the
// per-bin energy; bin j spans [j - 1/2, j + 1/2) bins; linear inside a bin.
inline double cum_at(const double* C, int F, double bin_hz, double f) noexcept {
  double p = f / bin_hz + 0.5;
  p = std::clamp(p, 0.0, double(F));
  double j = std::floor(p);
  if (j > F - 1)
    j = F - 1;
  const int i = int(j);
  return C[i] + (p - j) * (C[i + 1] - C[i]);
}
}  // namespace

void SynthSpec::validate() const {
  auto need = [](bool ok, const char* what) {
    if (!ok)
      throw std::invalid_argument(std::string("synthesiser: ") + what);
  };
  need(sample_rate >= 4000 && sample_rate <= 192000, "sample_rate out of range");
  need(hop >= 1 && hop <= 4096, "hop out of range");
  need(n_mels >= 2 && n_mels <= 1024, "n_mels out of range");
  need(n_fft >= 16 && n_fft <= 65536, "n_fft out of range");
  need(max_harmonics >= 1 && max_harmonics <= 1024, "harmonics out of range");
  need(noise_bands >= 1 && noise_bands <= 256, "noise_bands out of range");
  need(noise_taps >= 1 && noise_taps <= 4096, "noise_taps out of range");
  need(voiced_max_hz > 0 && sine_energy > 0 && noise_energy > 0, "energies and voiced_max_hz must be > 0");
  need(f0_min > 0 && f0_max > f0_min, "f0_min/f0_max out of range");
  need(noise_filters.size() == std::size_t(noise_bands) * std::size_t(noise_taps), "noise_filters size");
  need(mel_centres_hz.size() == std::size_t(n_mels) && mel_areas.size() == std::size_t(n_mels),
       "mel_centres_hz / mel_areas size");
  need(noise_edges_hz.size() == std::size_t(noise_bands) + 1, "noise_edges_hz size");
  for (int m = 0; m < n_mels; ++m) {
    need(mel_areas[m] > 0, "mel_areas must be > 0");
    need(m == 0 || mel_centres_hz[m] > mel_centres_hz[m - 1], "mel_centres_hz must ascend");
  }
  for (int b = 0; b < noise_bands; ++b)
    need(noise_edges_hz[b + 1] > noise_edges_hz[b], "noise_edges_hz must ascend");
  for (float v : noise_filters)
    need(std::isfinite(v), "noise_filters must be finite");
}

SynthTables::SynthTables(SynthSpec s) : spec(std::move(s)) {
  spec.validate();
  const int M = spec.n_mels, F = spec.bins();
  log_areas.resize(M);
  for (int m = 0; m < M; ++m)
    log_areas[m] = std::log(spec.mel_areas[m]);
  lo.resize(F);
  frac.resize(F);
  const auto& c = spec.mel_centres_hz;
  for (int f = 0; f < F; ++f) {
    const double hz = f * spec.bin_hz();
    if (hz <= c[0]) {
      lo[f] = 0, frac[f] = 0.0;
    } else if (hz >= c[M - 1]) {
      lo[f] = M - 2, frac[f] = 1.0;
    } else {
      const int j = int(std::upper_bound(c.begin(), c.end(), hz) - c.begin()) - 1;  // c[j] <= hz < c[j+1]
      lo[f] = j, frac[f] = (hz - c[j]) / (c[j + 1] - c[j]);
    }
  }
  noise_mid_hz.resize(spec.noise_bands);
  for (int b = 0; b < spec.noise_bands; ++b)
    noise_mid_hz[b] = 0.5 * (spec.noise_edges_hz[b] + spec.noise_edges_hz[b + 1]);
}

// ref: voice.py hns_frames. S(f) = exp(interp(log_mel - log area)); C = prefix
// sums of S; a_k^2 = (C(k f0 + f0/2) - C(k f0 - f0/2)) / sine_energy for
// voiced harmonics below voiced_max_hz and 0.95 Nyquist; g_b^2 = mean S over
// band b * (1 - voiced [mid_b < voiced_max]) / noise_energy.
void hns_frame(const SynthTables& t, const float* log_mel, float f0_f, float voiced_f, float* amps, float* gains,
               double* C) noexcept {
  const SynthSpec& s = t.spec;
  const int M = s.n_mels, F = s.bins(), K = s.max_harmonics, Bn = s.noise_bands;
  (void)M;
  const double bin_hz = s.bin_hz();
  C[0] = 0.0;
  for (int f = 0; f < F; ++f) {
    const int j = t.lo[f];
    const double a = double(log_mel[j]) - t.log_areas[j];
    const double b = double(log_mel[j + 1]) - t.log_areas[j + 1];
    C[f + 1] = C[f] + std::exp(a + t.frac[f] * (b - a));
  }
  const double f0 = f0_f, voiced = voiced_f;
  const double nyq95 = s.sample_rate / 2.0 * 0.95;
  for (int k = 0; k < K; ++k) {
    const double fk = f0 * (k + 1);
    if (fk < s.voiced_max_hz && fk < nyq95) {
      const double e = cum_at(C, F, bin_hz, fk + f0 / 2) - cum_at(C, F, bin_hz, fk - f0 / 2);
      amps[k] = float(std::sqrt(std::max(e, 0.0) / s.sine_energy) * voiced);
    } else {
      amps[k] = 0.0f;
    }
  }
  const auto& ed = s.noise_edges_hz;
  double c_lo = cum_at(C, F, bin_hz, ed[0]);
  for (int b = 0; b < Bn; ++b) {
    const double c_hi = cum_at(C, F, bin_hz, ed[b + 1]);
    const double mean_s = (c_hi - c_lo) / ((ed[b + 1] - ed[b]) / bin_hz);
    const double share = 1.0 - voiced * (t.noise_mid_hz[b] < s.voiced_max_hz ? 1.0 : 0.0);
    gains[b] = float(std::sqrt(std::max(mean_s, 0.0) * share / s.noise_energy));
    c_lo = c_hi;
  }
}

void HnsSynth::prepare(const SynthTables& tables) {
  t_ = &tables;
  const SynthSpec& s = tables.spec;
  hop_ = s.hop, K_ = s.max_harmonics, Bn_ = s.noise_bands, L_ = s.noise_taps;
  cur_amps_.assign(K_, 0.0f);
  cur_gains_.assign(Bn_, 0.0f);
  hist_.assign(std::size_t(L_ - 1 + hop_), 0.0f);
  h0_.assign(L_, 0.0f);
  dh_.assign(L_, 0.0f);
  reset(0);
}

void HnsSynth::reset(std::uint64_t seed) noexcept {
  have_frame_ = false;
  phase_ = 0.0;
  noise_.state = seed;
  cur_f0_ = 0.0f;
  std::fill(cur_amps_.begin(), cur_amps_.end(), 0.0f);
  std::fill(cur_gains_.begin(), cur_gains_.end(), 0.0f);
  std::fill(hist_.begin(), hist_.end(), 0.0f);
}

std::size_t HnsSynth::push(float f0, const float* amps, const float* gains, float* out) noexcept {
  std::size_t n = 0;
  if (have_frame_) {
    render(amps, gains, f0, out);
    n = std::size_t(hop_);
  }
  cur_f0_ = f0;
  std::copy(amps, amps + K_, cur_amps_.begin());
  std::copy(gains, gains + Bn_, cur_gains_.begin());
  have_frame_ = true;
  return n;
}

std::size_t HnsSynth::finish(float* out) noexcept {
  if (!have_frame_)
    return 0;
  // The last frame is held: next = current (voice.py upsample).
  float f0 = cur_f0_;
  render(cur_amps_.data(), cur_gains_.data(), f0, out);
  have_frame_ = false;
  return std::size_t(hop_);
}

// Frame t's hop with every value v interpolated v_t + (i/hop)(v_{t+1} - v_t).
// Harmonics: sin(k theta) by the Chebyshev recurrence s_{k+1} = 2 cos(theta)
// s_k - s_{k-1} (double), only up to the last harmonic that is non-zero in
// either frame. Noise: the gains are linear in i, so sum_b g_b(i) (h_b . n) =
// (H0 . n) + (i/hop)(dH . n) with H0 = sum_b g_b h_b, dH = sum_b (g'_b - g_b)
// h_b: two FIRs a sample instead of Bn.
void HnsSynth::render(const float* next_amps, const float* next_gains, float next_f0, float* out) noexcept {
  const double rate = t_->spec.sample_rate;
  const float* filt = t_->spec.noise_filters.data();  // [Bn, L]
  int k_top = 0;
  for (int k = 0; k < K_; ++k) {
    if (cur_amps_[k] != 0.0f || next_amps[k] != 0.0f)
      k_top = k + 1;
  }
  std::fill(h0_.begin(), h0_.end(), 0.0f);
  std::fill(dh_.begin(), dh_.end(), 0.0f);
  for (int b = 0; b < Bn_; ++b) {
    const float g = cur_gains_[b], dg = next_gains[b] - cur_gains_[b];
    if (g == 0.0f && dg == 0.0f)
      continue;
    const float* h = filt + std::size_t(b) * L_;
    for (int j = 0; j < L_; ++j) {
      h0_[j] += g * h[j];
      dh_[j] += dg * h[j];
    }
  }
  float* fresh = hist_.data() + (L_ - 1);
  for (int i = 0; i < hop_; ++i)
    fresh[i] = noise_.next();
  const double inv_hop = 1.0 / hop_;
  for (int i = 0; i < hop_; ++i) {
    const double w = i * inv_hop;
    const double f0 = cur_f0_ + w * (double(next_f0) - cur_f0_);
    phase_ += f0 / rate;
    phase_ -= std::floor(phase_);
    double y = 0.0;
    if (k_top > 0) {
      const double th = kTwoPi * phase_;
      const double c2 = 2.0 * std::cos(th);
      double s_prev = 0.0, s = std::sin(th);
      for (int k = 0; k < k_top; ++k) {
        const double a = cur_amps_[k] + w * (double(next_amps[k]) - cur_amps_[k]);
        y += a * s;
        const double s_next = c2 * s - s_prev;
        s_prev = s;
        s = s_next;
      }
    }
    const float* win = hist_.data() + i;  // n[s - (L-1)] .. n[s]
    float n0 = 0.0f, n1 = 0.0f;
    for (int j = 0; j < L_; ++j) {
      n0 += h0_[j] * win[j];
      n1 += dh_[j] * win[j];
    }
    out[i] = float(y + n0 + w * n1);
  }
  std::copy(hist_.end() - (L_ - 1), hist_.end(), hist_.begin());
}

std::vector<double> hns_reference(const SynthSpec& spec, const std::vector<float>& f0, const std::vector<float>& amps,
                                  const std::vector<float>& gains, const std::vector<float>& noise) {
  const std::size_t T = f0.size(), K = std::size_t(spec.max_harmonics), Bn = std::size_t(spec.noise_bands),
                    L = std::size_t(spec.noise_taps), hop = std::size_t(spec.hop), S = T * hop;
  if (amps.size() != T * K || gains.size() != T * Bn || noise.size() != S)
    throw std::invalid_argument("hns_reference: sizes");
  std::vector<double> y(S, 0.0);
  double phase = 0.0;
  for (std::size_t s = 0; s < S; ++s) {
    const std::size_t t = s / hop, tn = std::min(t + 1, T - 1);
    const double w = double(s % hop) / double(hop);
    auto lerp = [w](double a, double b) { return a + w * (b - a); };
    phase += lerp(f0[t], f0[tn]) / spec.sample_rate;
    phase -= std::floor(phase);
    for (std::size_t k = 0; k < K; ++k)
      y[s] += lerp(amps[t * K + k], amps[tn * K + k]) * std::sin(kTwoPi * double(k + 1) * phase);
    for (std::size_t b = 0; b < Bn; ++b) {
      double band = 0.0;  // F.conv1d on noise padded by L-1 zeros on the left
      for (std::size_t j = 0; j < L; ++j) {
        const std::ptrdiff_t idx = std::ptrdiff_t(s) - std::ptrdiff_t(L - 1) + std::ptrdiff_t(j);
        if (idx >= 0)
          band += double(spec.noise_filters[b * L + j]) * noise[std::size_t(idx)];
      }
      y[s] += lerp(gains[t * Bn + b], gains[tn * Bn + b]) * band;
    }
  }
  return y;
}

}  // namespace sw::speech
