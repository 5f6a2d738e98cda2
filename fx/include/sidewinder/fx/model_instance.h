// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "sidewinder/dsp/block_resampler.h"
#include "sidewinder/realtime.h"
#include "sidewinder/ssm/model.h"
#include "sidewinder/ssm/stream.h"

namespace sw::fx {

// What a host promises before processing (like juce::dsp::ProcessSpec): its
// sample rate, the largest block it will pass, and its channel count.
struct HostSpec {
  double sample_rate = 48000.0;
  std::size_t max_block_size = 512;  // 1 ..= 65536
  int channels = 2;                  // 1 ..= 16
};

// One model running at a host's rate, block size and channel count: the
// model's streams (one per channel for a mono model — dual mono, each channel
// with its own state — or one for all channels when the model takes exactly
// the host's channel count), and, when the host rate differs from the
// model's, a libsoxr resampler before and after the model
// (dsp::BlockResampler). Everything is allocated and warmed up in the
// constructor, off the audio thread; a host then hands the whole instance to
// the audio thread by pointer swap (dsp::ObjectSlot).
//
// Latency: 0 when the rates match. Otherwise the output is the input's
// processed copy delayed by latency_samples() host frames (soxr's two filter
// delays plus a fixed prefill that absorbs the resamplers' 64-frame
// chunking), constant for the life of the instance and independent of the
// block sizes the host uses. The result does not depend on how the host
// partitions the signal into blocks (tested: bit-identical).
//
// Non-finite model output (a broken model, or a state that blew up) never
// leaves the instance and never enters the output resampler: the affected
// block of that group is replaced by silence, the group's stream is reset,
// and nonfinite_events() counts it.
class ModelInstance {
 public:
  // Throws std::invalid_argument if the model cannot run at `spec` (no audio
  // head, no sample rate, channel counts that do not fit) and
  // std::runtime_error if libsoxr refuses. Allocates; not real-time.
  SW_NONREALTIME ModelInstance(std::shared_ptr<const ssm::Model> model, const HostSpec& spec);

  // Planar: in[c][0..n) for c < spec.channels; out[c][0..n) for c <
  // out_channels(). n ≤ spec.max_block_size (larger n is processed in pieces
  // of that size). out may alias in. No allocation, no lock, no exception.
  SW_REALTIME void process(const float* const* in, float* const* out, std::size_t n) noexcept;

  // Back to silence: every stream's state to zero. The resamplers keep their
  // (already silent or soon silent) history. Real-time safe.
  SW_REALTIME void reset() noexcept;

  SW_REALTIME int latency_samples() const noexcept { return latency_; }
  // Output normalisation (NAM-style): the gain that brings the model's
  // output loudness on the training capture (metadata loudness_lufs, ITU-R
  // BS.1770) to kNormalisedLufs, limited to ±24 dB; 1 when the model does not
  // state its loudness.
  static constexpr double kNormalisedLufs = -18.0;
  SW_REALTIME float loudness_gain() const noexcept { return loudness_gain_; }
  SW_REALTIME int out_channels() const noexcept { return out_channels_; }
  SW_REALTIME bool resampling() const noexcept { return resampling_; }
  // Times a group's output was non-finite and muted (see above). Audio thread.
  SW_REALTIME std::size_t nonfinite_events() const noexcept { return nonfinite_events_; }
  // Frames the latency FIFO had to invent (the chain lagged more than the
  // prefill) or drop (it ran further ahead than measured); expected never,
  // tested. Audio thread.
  SW_REALTIME std::size_t underruns() const noexcept { return underruns_; }

  const HostSpec& spec() const noexcept { return spec_; }
  const ssm::Model& model() const noexcept { return *model_; }
  const std::shared_ptr<const ssm::Model>& model_ptr() const noexcept { return model_; }

 private:
  // One stream with its own resamplers and buffers: a host channel (dual
  // mono) or all of them (a model that takes the host's channel count).
  struct Group {
    int first_channel = 0, in_ch = 1, out_ch = 1;
    std::unique_ptr<ssm::Stream> stream;
    std::unique_ptr<dsp::BlockResampler> up, down;  // null when the rates match
    std::vector<float> in_il;                       // [max_block, in_ch] host-rate input, interleaved
    std::vector<float> model_in, model_out;         // [model_frames, in_ch] / [model_frames, out_ch]
    std::vector<float> down_out;                    // [down max output per call, out_ch]
    std::vector<float> fifo;                        // [fifo_cap, out_ch] host-rate output ring
    std::size_t fifo_read = 0, fifo_count = 0;
  };
  SW_REALTIME void process_piece(const float* const* in, float* const* out, std::size_t n) noexcept;
  SW_REALTIME void run_model(Group& g, const float* in, float* out, std::size_t frames) noexcept;

  std::shared_ptr<const ssm::Model> model_;
  HostSpec spec_;
  int out_channels_ = 0;
  bool resampling_ = false;
  int latency_ = 0;
  float loudness_gain_ = 1.0f;
  std::size_t max_model_frames_ = 0, fifo_cap_ = 0;
  std::vector<Group> groups_;
  std::vector<float> host_out_;  // [max_block, out_ch] scratch
  std::size_t nonfinite_events_ = 0, underruns_ = 0;
};

}  // namespace sw::fx
