// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "sidewinder/realtime.h"
#include "sidewinder/speech/hns_synth.h"
#include "sidewinder/speech/voice_model.h"
#include "sidewinder/ssm/stream.h"

namespace sw::speech {

// How an utterance is spoken. Fixed for the utterance except where marked live.
struct UtteranceControls {
  double length_scale = 1.0;           // durations x this (1 / speaking rate)
  double pitch_semitones = 0.0;        // f0 x 2^(st/12)
  double volume = 1.0;                 // output gain
  const float* f0_override = nullptr;  // Hz per frame (<= 0: keep the voice's), f0_override_frames of them
  std::size_t f0_override_frames = 0;
  std::uint64_t seed = 0x5eed;  // the noise generator's
};

// Sees every frame as it is synthesised (tests, timestamps, the f0 path).
class FrameObserver {
 public:
  virtual ~FrameObserver() = default;
  // log_mel [M] (decoder output), f0 after pitch and override, voicing in (0, 1).
  virtual void on_frame(std::size_t frame, const float* log_mel, float f0, float voiced) noexcept = 0;
};

// One voice speaking one utterance (a sentence of phoneme ids) at a time,
// pull-style: the encoder reads the whole utterance at start(); the causal
// decoder and the synthesiser then run frame by frame as samples are pulled,
// so audio starts after the first frames and memory does not grow with the
// length of what is said.
//
//   prepare()   allocates everything for utterances of up to max_tokens ids.
//   start()     encodes, predicts durations; allocation-free, no locks.
//   pull()      writes up to `max` samples, returns how many (0 = finished);
//               allocation-free, lock-free, noexcept.
//   set_f0_hz() / set_pitch_semitones(): live (any thread; atomics).
class VoiceStream {
 public:
  explicit VoiceStream(std::shared_ptr<const VoiceModel> voice, const ssm::KernelTable* kernels = nullptr);

  SW_NONREALTIME void prepare(std::size_t max_tokens = 1024);

  // ids [n]: an utterance (<bos> ... <eos>, voice.tokenize()). durations: if
  // given, frames per id (as the voice's own, before length_scale) instead of
  // the predicted ones. Returns false (and speaks nothing) if n is 0 or more
  // than max_tokens, or an id is out of range.
  SW_REALTIME bool start(const int* ids, std::size_t n, const UtteranceControls& controls,
                         const int* durations = nullptr) noexcept;
  SW_REALTIME std::size_t pull(float* out, std::size_t max) noexcept;
  bool finished() const noexcept { return !active_; }

  // Frames per id of the current utterance (after length_scale), and their sum.
  const int* durations() const noexcept { return dur_.data(); }
  std::size_t token_count() const noexcept { return n_; }
  std::size_t total_frames() const noexcept { return total_frames_; }
  std::size_t total_samples() const noexcept { return total_frames_ * std::size_t(voice_->hop()); }

  void set_observer(FrameObserver* o) noexcept { observer_ = o; }
  // Live controls: f0 in Hz for every following frame (<= 0: the voice's own);
  // pitch shift in semitones.
  void set_f0_hz(float hz) noexcept { live_f0_.store(hz, std::memory_order_relaxed); }
  void set_pitch_semitones(float st) noexcept { live_pitch_.store(st, std::memory_order_relaxed); }

  const VoiceModel& voice() const noexcept { return *voice_; }
  static constexpr std::size_t kDecoderChunk = 8;  // frames per decoder call

 private:
  SW_REALTIME void decode_chunk() noexcept;
  SW_REALTIME void next_frame() noexcept;

  std::shared_ptr<const VoiceModel> voice_;
  ssm::Stream enc_fwd_, enc_bwd_, decoder_;
  HnsSynth synth_;
  std::size_t max_tokens_ = 0;
  // Per utterance (views sized for max_tokens at prepare).
  std::vector<float> e_, e_rev_, hf_, hb_rev_;  // [N, C], [N, C], [N, H], [N, H]
  std::vector<float> h_, mu_;                   // [N, H], [N, M]
  std::vector<int> dur_;                        // [N]
  std::size_t n_ = 0, total_frames_ = 0;
  UtteranceControls ctl_;
  bool active_ = false;
  // Decoder position.
  std::size_t frame_ = 0;                // next frame to synthesise
  std::size_t tok_ = 0, tok_pos_ = 0;    // phoneme of the next frame to decode and frames into it
  std::size_t decoded_ = 0;              // frames decoded so far
  std::vector<float> dec_in_, dec_out_;  // [chunk, H+M+2], [chunk, 2+M]
  std::vector<float> mel_;               // [chunk, M]: mu + residual
  std::vector<float> amps_, gains_;
  std::vector<double> scratch_;
  std::size_t chunk_begin_ = 0, chunk_len_ = 0;
  std::vector<std::size_t> chunk_tok_;  // [chunk]: phoneme of each decoded frame
  // Output staging: one hop.
  std::vector<float> pending_;
  std::size_t pending_pos_ = 0, pending_len_ = 0;
  bool synth_done_ = false;
  FrameObserver* observer_ = nullptr;
  std::atomic<float> live_f0_{0.0f}, live_pitch_{0.0f};
};

}  // namespace sw::speech
