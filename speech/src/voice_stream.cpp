// SPDX-License-Identifier: GPL-3.0-or-later
// One utterance through the voice: encoder over the sentence, durations,
// the causal decoder a few frames at a time, the synthesiser sample by
// sample. ref: training/speech/voice.py (Voice.encode, decoder_input,
// frames) and train_voice.py speak().
#include <algorithm>
#include <cmath>

#include "sidewinder/denormal_guard.h"
#include "sidewinder/speech/voice_stream.h"

namespace sw::speech {

namespace {
// A phoneme lasts at most this many frames (20 s at 100 frames/s): a bound on
// what a broken duration or a huge length_scale can ask for.
constexpr int kMaxFramesPerPhoneme = 2000;
}  // namespace

VoiceStream::VoiceStream(std::shared_ptr<const VoiceModel> voice, const ssm::KernelTable* kernels)
    : voice_(std::move(voice)),
      enc_fwd_(voice_->enc_fwd, kernels),
      enc_bwd_(voice_->enc_bwd, kernels),
      decoder_(voice_->decoder, kernels) {}

void VoiceStream::prepare(std::size_t max_tokens) {
  const VoiceModel& v = *voice_;
  const std::size_t N = std::max<std::size_t>(max_tokens, 1), C = std::size_t(v.emb_dim), H = std::size_t(v.hidden),
                    M = std::size_t(v.n_mels);
  max_tokens_ = N;
  enc_fwd_.prepare({0.0, N});
  enc_bwd_.prepare({0.0, N});
  decoder_.prepare({0.0, kDecoderChunk});
  synth_.prepare(*v.synth);
  e_.assign(N * C, 0.0f);
  e_rev_.assign(N * C, 0.0f);
  hf_.assign(N * H, 0.0f);
  hb_rev_.assign(N * H, 0.0f);
  h_.assign(N * H, 0.0f);
  mu_.assign(N * M, 0.0f);
  dur_.assign(N, 0);
  dec_in_.assign(kDecoderChunk * (H + M + 2), 0.0f);
  dec_out_.assign(kDecoderChunk * (M + 2), 0.0f);
  mel_.assign(M, 0.0f);
  amps_.assign(std::size_t(v.synth->spec.max_harmonics), 0.0f);
  gains_.assign(std::size_t(v.synth->spec.noise_bands), 0.0f);
  scratch_.assign(std::size_t(v.synth->spec.bins()) + 1, 0.0);
  pending_.assign(std::size_t(v.hop()), 0.0f);
  chunk_tok_.assign(kDecoderChunk, 0);
  active_ = false;
}

bool VoiceStream::start(const int* ids, std::size_t n, const UtteranceControls& controls,
                        const int* durations) noexcept {
  active_ = false;
  if (n == 0 || n > max_tokens_)
    return false;
  const VoiceModel& v = *voice_;
  for (std::size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= v.n_symbols)
      return false;
  ScopedDenormalGuard guard;
  const std::size_t C = std::size_t(v.emb_dim), H = std::size_t(v.hidden), M = std::size_t(v.n_mels);
  ctl_ = controls;
  n_ = n;
  // e [N, C]; the backward encoder reads the utterance reversed.
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = v.embedding.data() + std::size_t(ids[i]) * C;
    std::copy(row, row + C, e_.data() + i * C);
    std::copy(row, row + C, e_rev_.data() + (n - 1 - i) * C);
  }
  enc_fwd_.reset();
  enc_bwd_.reset();
  enc_fwd_.process(e_.data(), hf_.data(), n);
  enc_bwd_.process(e_rev_.data(), hb_rev_.data(), n);
  total_frames_ = 0;
  for (std::size_t i = 0; i < n; ++i) {
    float* h = h_.data() + i * H;
    const float* hb = hb_rev_.data() + (n - 1 - i) * H;
    for (std::size_t j = 0; j < H; ++j)
      h[j] = hf_[i * H + j] + hb[j];
    // mu = prior_w h + prior_b  [M]
    float* mu = mu_.data() + i * M;
    for (std::size_t m = 0; m < M; ++m) {
      double acc = v.prior_b[m];
      const float* w = v.prior_w.data() + m * H;
      for (std::size_t j = 0; j < H; ++j)
        acc += double(w[j]) * h[j];
      mu[m] = float(acc);
    }
    // frames = max(1, round(expm1(dur_w . h + dur_b) * length_scale)), round half to even as torch.round
    double frames = 0;
    if (durations) {
      frames = double(durations[i]);
    } else {
      double x = v.dur_b;
      for (std::size_t j = 0; j < H; ++j)
        x += double(v.dur_w[j]) * h[j];
      frames = std::expm1(std::min(x, 12.0));
      frames = std::nearbyint(frames);
    }
    frames = std::nearbyint(frames * controls.length_scale);
    dur_[i] = int(std::clamp(frames, 1.0, double(kMaxFramesPerPhoneme)));
    total_frames_ += std::size_t(dur_[i]);
  }
  decoder_.reset();
  synth_.reset(controls.seed);
  frame_ = decoded_ = tok_ = tok_pos_ = 0;
  chunk_begin_ = chunk_len_ = 0;
  pending_pos_ = pending_len_ = 0;
  synth_done_ = false;
  active_ = true;
  return true;
}

// The next kDecoderChunk frames (or fewer at the end) through the decoder.
// Input of frame t in phoneme i: [h_i, mu_i, progress = frames into i / d_i, 1 / d_i].
void VoiceStream::decode_chunk() noexcept {
  const VoiceModel& v = *voice_;
  const std::size_t H = std::size_t(v.hidden), M = std::size_t(v.n_mels), W = H + M + 2;
  const std::size_t rows = std::min(kDecoderChunk, total_frames_ - decoded_);
  for (std::size_t r = 0; r < rows; ++r) {
    float* in = dec_in_.data() + r * W;
    const float d = float(dur_[tok_]);
    std::copy(h_.data() + tok_ * H, h_.data() + (tok_ + 1) * H, in);
    std::copy(mu_.data() + tok_ * M, mu_.data() + (tok_ + 1) * M, in + H);
    in[H + M] = float(tok_pos_) / d;
    in[H + M + 1] = 1.0f / d;
    chunk_tok_[r] = tok_;
    if (++tok_pos_ == std::size_t(dur_[tok_])) {
      ++tok_;
      tok_pos_ = 0;
    }
  }
  decoder_.process(dec_in_.data(), dec_out_.data(), rows);
  chunk_begin_ = decoded_;
  chunk_len_ = rows;
  decoded_ += rows;
}

void VoiceStream::next_frame() noexcept {
  const VoiceModel& v = *voice_;
  const SynthSpec& s = v.synth->spec;
  const std::size_t M = std::size_t(v.n_mels);
  if (frame_ >= decoded_)
    decode_chunk();
  const std::size_t r = frame_ - chunk_begin_;
  const float* out = dec_out_.data() + r * (M + 2);
  const float* mu = mu_.data() + chunk_tok_[r] * M;
  for (std::size_t m = 0; m < M; ++m)
    mel_[m] = mu[m] + out[2 + m];
  // ref: Voice.frames: f0 = clamp(exp(out0), f0_min / 2, 1.5 f0_max); voicing = sigmoid(out1)
  double f0 = std::clamp(std::exp(double(out[0])), s.f0_min * 0.5, s.f0_max * 1.5);
  const float voiced = float(1.0 / (1.0 + std::exp(-double(out[1]))));
  const double st = ctl_.pitch_semitones + double(live_pitch_.load(std::memory_order_relaxed));
  if (st != 0.0)
    f0 *= std::exp2(st / 12.0);
  if (ctl_.f0_override && frame_ < ctl_.f0_override_frames && ctl_.f0_override[frame_] > 0.0f)
    f0 = ctl_.f0_override[frame_];
  const float live = live_f0_.load(std::memory_order_relaxed);
  if (live > 0.0f)
    f0 = live;
  f0 = std::clamp(f0, 20.0, s.sample_rate * 0.45);
  if (observer_)
    observer_->on_frame(frame_, mel_.data(), float(f0), voiced);
  hns_frame(*v.synth, mel_.data(), float(f0), voiced, amps_.data(), gains_.data(), scratch_.data());
  pending_len_ = synth_.push(float(f0), amps_.data(), gains_.data(), pending_.data());
  pending_pos_ = 0;
  ++frame_;
}

std::size_t VoiceStream::pull(float* out, std::size_t max) noexcept {
  ScopedDenormalGuard guard;
  std::size_t written = 0;
  const float gain = float(ctl_.volume);
  while (written < max) {
    if (pending_pos_ < pending_len_) {
      const std::size_t k = std::min(max - written, pending_len_ - pending_pos_);
      for (std::size_t i = 0; i < k; ++i)
        out[written + i] = gain * pending_[pending_pos_ + i];
      pending_pos_ += k;
      written += k;
      continue;
    }
    if (!active_)
      break;
    if (frame_ < total_frames_) {
      next_frame();
    } else if (!synth_done_) {
      pending_len_ = synth_.finish(pending_.data());
      pending_pos_ = 0;
      synth_done_ = true;
    } else {
      active_ = false;
    }
  }
  return written;
}

}  // namespace sw::speech
