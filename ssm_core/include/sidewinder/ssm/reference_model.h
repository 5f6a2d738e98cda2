// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <vector>

#include "sidewinder/ssm/model_weights.h"

namespace sw::ssm {

// The obvious implementation of the whole model: one sample at a time, in
// double precision, Eigen matrix-vector products straight from the unpacked
// PyTorch-layout weights and std::exp — written from docs/model_format.md,
// sharing no code with Model/Stream or the kernels. Used by tests to check the
// packed engine on shapes the golden fixtures do not cover. Not real-time.
class ReferenceModel {
 public:
  explicit ReferenceModel(const ModelWeights& weights);
  ~ReferenceModel();
  ReferenceModel(const ReferenceModel&) = delete;
  ReferenceModel& operator=(const ReferenceModel&) = delete;

  void reset();
  // in: [frames, in_channels] interleaved → out: [frames, out_channels].
  void process(const float* in, float* out, std::size_t frames);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace sw::ssm
