// SPDX-License-Identifier: GPL-3.0-or-later
// The CUDA backend's public face: no CUDA types here, so the CLI, the daemon
// and the tests include it from plain C++ (a build without CUDA links
// gpu/src/no_cuda.cpp, whose engine refuses to start with one clear error).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "sidewinder/realtime.h"
#include "sidewinder/ssm/model_weights.h"

namespace sw::gpu {

// True when this build has the CUDA backend and a CUDA device answers. On
// false, `why` (if given) says which of the two is missing. Not real-time.
bool cuda_available(std::string* why = nullptr) noexcept;

struct DeviceInfo {
  std::string name;
  int multiprocessors = 0;
  int cc_major = 0, cc_minor = 0;
  double memory_gib = 0;
  std::string driver;  // "580.159" style CUDA driver version
};
// Throws std::runtime_error when no device is available.
DeviceInfo device_info();

// What the engine is prepared for (the contract, like ssm::ProcessSpec).
struct BatchSpec {
  int max_rows = 1;   // streams advanced together
  int window = 1024;  // largest frames per run(); every device buffer is [max_rows, ·, window]
};

// One model, many streams ("rows"), on the GPU: weights, every row's state
// (conv history and SSM state, fp32) and the activations of one window stay
// resident on the device. run() advances rows [0, rows) by `frames` samples
// through the whole model: input from pinned host memory, every layer (the
// chunked parallel scan along time within the call), output back to pinned
// host memory. The sequence of copies and launches for a given (rows,
// frames) is captured once as a CUDA graph and replayed afterwards.
//
// For a streaming service: window = the block (e.g. 1024) and one run() per
// block for every active stream. For offline rendering of long files: a big
// window, rows = files × channels, run() per window, the state carried.
//
// Thread-safety: one thread at a time (it owns a CUDA stream). Not real-time:
// run() blocks until the GPU is done; call it from a worker thread, never
// from an audio callback.
class BatchEngine {
 public:
  // Uploads the weights and allocates everything (device and pinned host
  // memory); the state starts at zero. Throws std::invalid_argument for
  // shapes the backend does not take (naming the limit) and
  // std::runtime_error for CUDA errors (no device, out of memory).
  SW_NONREALTIME BatchEngine(const ssm::ModelWeights& weights, const BatchSpec& spec);
  ~BatchEngine();
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  int in_channels() const noexcept;
  int out_channels() const noexcept;
  const BatchSpec& spec() const noexcept;
  double sample_rate() const noexcept;

  // Pinned host buffers. Row r's input is input() + r · window · in_channels,
  // [window, in_channels] interleaved; output likewise with out_channels.
  // Only the first `frames` of each row are read / written by run().
  float* input() noexcept;
  const float* output() const noexcept;

  // Advances rows [0, rows) by frames ∈ [0, window]. Blocks until output()
  // holds the result. Throws std::invalid_argument for out-of-range
  // arguments, std::runtime_error for CUDA errors. Allocates only the first
  // time a (rows, frames) pair is seen (its graph).
  SW_NONREALTIME void run(int rows, int frames);

  // Every row back to silence (zero state); reset_row: one row. Block.
  SW_NONREALTIME void reset();
  SW_NONREALTIME void reset_row(int row);

  // Bytes of device memory this engine holds.
  std::size_t device_bytes() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sw::gpu
