// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "sidewinder/dsp/model_slot.h"
#include "sidewinder/dsp/smoothed_value.h"
#include "sidewinder/fx/model_instance.h"
#include "sidewinder/realtime.h"

namespace sw::fx {

// The controls of the effect. Written by any thread (a GUI, a host's
// automation), read once per block by the audio thread; plain atomics, no
// allocation, no lock.
struct EffectParameters {
  std::atomic<float> input_gain_db{0.0f};   // into the model
  std::atomic<float> output_gain_db{0.0f};  // after the dry/wet mix
  std::atomic<float> mix{1.0f};             // 0 = dry only, 1 = wet only
  std::atomic<bool> bypass{false};          // latency-compensated dry, crossfaded
  std::atomic<bool> normalise{false};       // wet × the model's loudness gain (ModelInstance::loudness_gain)
};

// The whole effect a plugin or the CLI runs, without any GUI or file code:
//
//   dry ─────────────────────────────── delay(latency) ─┬──────────┐
//   in ─× input gain ─ model (ModelInstance) ─× norm ─ mix ─× output gain ─ bypass xfade ─ out
//
// Every parameter is smoothed (linear ramps, dsp::SmoothedValue), bypass is
// a crossfade to the latency-compensated dry signal, and a new model arrives
// by pointer swap (dsp::ObjectSlot) and is crossfaded in while the old one
// keeps running for kModelFadeSeconds; the old one is then handed back and
// freed by collect_garbage() on a non-real-time thread. A model whose
// output turns non-finite is muted (its ModelInstance replaces the block by
// silence and resets the state) and faded back in.
//
// Threads: prepare() with the audio thread stopped; process() on the audio
// thread; publish()/collect_garbage() on any one non-real-time thread at a
// time; the telemetry getters on any thread.
class Effect {
 public:
  static constexpr double kParameterRampSeconds = 0.02;
  static constexpr double kBypassRampSeconds = 0.02;
  static constexpr double kModelFadeSeconds = 0.05;
  static constexpr double kUnmuteSeconds = 0.05;
  // The largest latency an instance may have (dry delay line length).
  static constexpr int kMaxLatency = 8192;

  SW_NONREALTIME Effect();
  SW_NONREALTIME ~Effect();
  Effect(const Effect&) = delete;
  Effect& operator=(const Effect&) = delete;

  // Audio thread stopped. Allocates the buffers for `spec`, drops any
  // published-but-not-taken instance, and makes `instance` (built for the
  // same spec; may be null: then the wet signal is the dry one) current
  // without a fade. Parameters snap to their targets. Throws
  // std::invalid_argument if the instance was built for another spec.
  SW_NONREALTIME void prepare(const HostSpec& spec, std::unique_ptr<ModelInstance> instance);

  // Any non-real-time thread, audio running: hands an instance built for
  // spec() to the audio thread, which crossfades to it on its next block.
  // An instance published earlier and not yet taken is dropped. Allocates
  // nothing but may free (a superseded instance). Throws
  // std::invalid_argument if the instance does not match spec().
  SW_NONREALTIME void publish(std::unique_ptr<ModelInstance> instance);

  // Frees instances the audio thread has retired; returns how many. Takes a
  // mutex; never call from the audio thread.
  SW_NONREALTIME std::size_t collect_garbage() { return slot_.collect_garbage(); }

  // In place, planar: io[c][0..n) for c < spec().channels. Any n (split
  // into pieces of spec().max_block_size). noexcept; no allocation, lock or
  // I/O; sets FTZ/DAZ for the call.
  SW_REALTIME void process(float* const* io, std::size_t n) noexcept;

  // Any thread: asks the audio thread to clear every recurrent state at the
  // start of its next block (models' states, dry delay line, latency FIFOs'
  // contents are kept; a running crossfade ends on the new model; parameter
  // ramps jump to their targets). The resamplers' filter histories are not
  // cleared (libsoxr cannot without allocating): at a host rate other than
  // the model's, up to their delay of pre-reset sound still comes out.
  // Real-time safe (an atomic flag).
  SW_REALTIME void reset() noexcept { reset_requested_.store(true, std::memory_order_release); }

  EffectParameters& parameters() noexcept { return params_; }
  const HostSpec& spec() const noexcept { return spec_; }

  // Telemetry, any thread (snapshots).
  // Peak |sample| since the last call, over all channels (resets to 0).
  SW_REALTIME float take_input_peak() noexcept { return in_peak_.exchange(0.0f, std::memory_order_relaxed); }
  SW_REALTIME float take_output_peak() noexcept { return out_peak_.exchange(0.0f, std::memory_order_relaxed); }
  // Processing time / audio time of recent blocks (exponentially averaged).
  SW_REALTIME float cpu_load() const noexcept { return cpu_load_.load(std::memory_order_relaxed); }
  // Times a model's output was non-finite (muted and reset).
  SW_REALTIME std::uint64_t nonfinite_events() const noexcept { return nonfinite_.load(std::memory_order_relaxed); }
  // Latency of the instance the audio thread runs now (frames).
  SW_REALTIME int current_latency() const noexcept { return latency_.load(std::memory_order_relaxed); }
  // Frames the instances' latency FIFOs had to invent (expected 0).
  SW_REALTIME std::uint64_t underruns() const noexcept { return underruns_.load(std::memory_order_relaxed); }

 private:
  SW_REALTIME void process_piece(float* const* io, std::size_t n) noexcept;
  SW_REALTIME void check_instance(ModelInstance* inst, std::size_t& nonfinite_seen) noexcept;
  // norm_ is the normalisation switch smoothed 0 -> 1; each model's wet
  // signal is scaled by 1 + norm * (its loudness gain - 1).

  HostSpec spec_;
  bool prepared_ = false;
  EffectParameters params_;
  dsp::ObjectSlot<ModelInstance> slot_{16};
  ModelInstance* current_ = nullptr;  // owned by the audio thread (after prepare)
  ModelInstance* fading_ = nullptr;   // the previous instance during a crossfade
  std::size_t current_nonfinite_ = 0, fading_nonfinite_ = 0;
  dsp::SmoothedValue in_gain_{1.0f}, out_gain_{1.0f}, mix_{1.0f}, norm_{0.0f}, bypass_{0.0f}, fade_{1.0f}, mute_{1.0f};
  // Per-block scratch: [C][max_block] each, and per-frame gains [max_block].
  std::vector<std::vector<float>> dry_, wet_in_, wet_, wet_old_;
  std::vector<float> g_in_, g_norm_, g_mix_, g_out_, g_bypass_, g_fade_, g_mute_;
  // Dry delay lines: [C][kMaxLatency + 1] rings with one write position.
  std::vector<std::vector<float>> delay_;
  std::size_t delay_pos_ = 0;
  std::atomic<float> in_peak_{0.0f}, out_peak_{0.0f}, cpu_load_{0.0f};
  std::atomic<std::uint64_t> nonfinite_{0}, underruns_{0};
  std::atomic<int> latency_{0};
  std::atomic<bool> reset_requested_{false};
};

}  // namespace sw::fx
