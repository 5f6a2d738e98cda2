// SPDX-License-Identifier: GPL-3.0-or-later
// The CUDA backend's entry points in a build without CUDA (SIDEWINDER_CUDA
// OFF, or no nvcc found): nothing is available and the engine refuses to
// start with one clear error, so `--device cuda` says why and `auto` picks
// the CPU.
#include <stdexcept>

#include "sidewinder/gpu/batch_engine.h"

namespace sw::gpu {

namespace {
const char* const kNoCuda =
    "this build has no CUDA backend (configure with -DSIDEWINDER_CUDA=ON where nvcc is installed)";
}

bool cuda_available(std::string* why) noexcept {
  if (why)
    *why = kNoCuda;
  return false;
}

DeviceInfo device_info() {
  throw std::runtime_error(kNoCuda);
}

struct BatchEngine::Impl {};

BatchEngine::BatchEngine(const ssm::ModelWeights&, const BatchSpec&) {
  throw std::runtime_error(kNoCuda);
}
BatchEngine::~BatchEngine() = default;
int BatchEngine::in_channels() const noexcept {
  return 0;
}
int BatchEngine::out_channels() const noexcept {
  return 0;
}
const BatchSpec& BatchEngine::spec() const noexcept {
  static const BatchSpec none{};
  return none;
}
double BatchEngine::sample_rate() const noexcept {
  return 0;
}
float* BatchEngine::input() noexcept {
  return nullptr;
}
const float* BatchEngine::output() const noexcept {
  return nullptr;
}
void BatchEngine::run(int, int) {
  throw std::runtime_error(kNoCuda);
}
void BatchEngine::reset() {}
void BatchEngine::reset_row(int) {}
std::size_t BatchEngine::device_bytes() const noexcept {
  return 0;
}

}  // namespace sw::gpu
