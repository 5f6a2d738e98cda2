// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "sidewinder/realtime.h"
#include "sidewinder/ssm/aligned_buffer.h"
#include "sidewinder/ssm/kernels.h"
#include "sidewinder/ssm/model.h"

namespace sw::ssm {

// What prepare() needs to know; the contract between a host and the engine
// (like juce::dsp::ProcessSpec).
struct ProcessSpec {
  double sample_rate = 0.0;        // must equal the model's rate (0 = the model's rate)
  std::size_t max_block_size = 0;  // largest `frames` a process() call will pass (≥ 1)
};

// One stream of audio through a model: the recurrent state (conv history and
// SSM state, fp32) and the scratch for one block, in one arena.
//
//   prepare()  allocates, may throw — call off the audio thread.
//   process()  noexcept, allocation-free, lock-free, I/O-free; any frames ≥ 0
//              (blocks larger than the internal chunk are split; the result
//              does not depend on how a signal is partitioned).
//   reset()    noexcept, allocation-free: back to silence (zero state).
class Stream {
 public:
  // kernels == nullptr: best_kernels() for this CPU.
  explicit Stream(std::shared_ptr<const Model> model, const KernelTable* kernels = nullptr);

  SW_NONREALTIME void prepare(const ProcessSpec& spec);

  // in: [frames, in_channels] interleaved; out: [frames, out_channels]
  // interleaved. in and out must not overlap. FTZ/DAZ are set for the call
  // and restored afterwards. Unprepared: writes silence.
  SW_REALTIME void process(const float* in, float* out, std::size_t frames) noexcept;

  SW_REALTIME void reset() noexcept;

  bool is_prepared() const noexcept { return chunk_ > 0; }
  int in_channels() const noexcept { return model_->config().in_channels; }
  int out_channels() const noexcept { return model_->config().out_channels; }
  const Model& model() const noexcept { return *model_; }
  const std::shared_ptr<const Model>& model_ptr() const noexcept { return model_; }
  const KernelTable& kernels() const noexcept { return *kernels_; }
  std::size_t arena_bytes() const noexcept { return arena_.size() * sizeof(float); }
  // Rows processed per internal step (blocks are cut into chunks of this).
  std::size_t chunk_size() const noexcept { return chunk_; }

  // The largest internal chunk; bigger host blocks are split into chunks so
  // the working set stays in L1/L2 whatever the block size.
  static constexpr std::size_t kMaxChunk = 64;

 private:
  SW_REALTIME void process_chunk(const float* in, float* out, std::size_t rows) noexcept;
  SW_REALTIME void mamba1_layer(std::size_t l, std::size_t rows) noexcept;
  SW_REALTIME void mamba2_layer(std::size_t l, std::size_t rows) noexcept;
  SW_REALTIME void linear(const PackedLinear& p, const float* x, std::size_t x_stride, std::size_t rows, float* y,
                          std::size_t y_stride, bool accumulate) const noexcept;

  std::shared_ptr<const Model> model_;
  const KernelTable* kernels_;
  std::size_t chunk_ = 0;
  // Padded widths.
  std::size_t d_pad_ = 0, e_pad_ = 0, conv_pad_ = 0, n_pad_ = 0, r_pad_ = 0, h_pad_ = 0, p_pad_ = 0, out_pad_ = 0;
  AlignedBuffer arena_;
  // State views (per layer).
  std::vector<float*> conv_hist_;  // [K-1, conv_pad]
  std::vector<float*> ssm_state_;  // m1: [N, e_pad]; m2: [H, N, p_pad]
  std::size_t state_floats_ = 0;   // state lives at the start of the arena
  // Scratch views (shared by all layers).
  float* r_ = nullptr;       // [chunk, d_pad] residual stream (fp32)
  float* nrm_ = nullptr;     // [chunk, d_pad]
  float* xc_ = nullptr;      // [K-1+chunk, conv_pad] conv input with history
  float* u_ = nullptr;       // [chunk, conv_pad] conv output
  float* z_ = nullptr;       // [chunk, e_pad]
  float* y_ = nullptr;       // [chunk, e_pad]
  float* dt_ = nullptr;      // m1: [chunk, e_pad]; m2: [chunk, h_pad]
  float* dtin_ = nullptr;    // m1: [chunk, r_pad]; m2: dt, exp(dt·A) [chunk, H] each
  float* bm_ = nullptr;      // m1: [chunk, n_pad]
  float* cm_ = nullptr;      // m1: [chunk, n_pad]
  float* ostage_ = nullptr;  // [chunk, out_pad]
};

}  // namespace sw::ssm
