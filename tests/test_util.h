// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "sidewinder/ssm/kernels.h"
#include "sidewinder/ssm/model.h"
#include "sidewinder/ssm/stream.h"

namespace sw::test {

inline std::string data_path(const std::string& rel) {
  return std::string(SW_TEST_DATA_DIR) + "/" + rel;
}

// Every kernel table this machine runs: reference, baseline, and avx2 if the CPU has it.
inline std::vector<const ssm::KernelTable*> all_kernel_tables() {
  std::vector<const ssm::KernelTable*> t = {&ssm::reference_kernels(), &ssm::baseline_kernels()};
  if (const ssm::KernelTable* a = ssm::avx2_kernels())
    t.push_back(a);
  return t;
}

// Error normalised by the reference's peak: max|y - ref| / max|ref|.
inline double norm_err(const std::vector<float>& y, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    num = std::max(num, std::abs(double(y[i]) - double(ref[i])));
    den = std::max(den, std::abs(double(ref[i])));
  }
  return den > 0 ? num / den : num;
}

// Block sizes for a partition of `frames`: fixed size, or seeded random 1..max.
inline std::vector<std::size_t> partition(std::size_t frames, std::size_t block, unsigned seed = 0) {
  std::vector<std::size_t> parts;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> d(1, block);
  while (frames > 0) {
    std::size_t b = seed ? d(rng) : block;
    b = std::min(b, frames);
    parts.push_back(b);
    frames -= b;
  }
  return parts;
}

// Runs `in` ([frames, C_in]) through a fresh stream in the given blocks.
inline std::vector<float> run_stream(const std::shared_ptr<const ssm::Model>& model, const ssm::KernelTable* k,
                                     const std::vector<float>& in, const std::vector<std::size_t>& parts,
                                     std::size_t max_block = 0) {
  const auto& c = model->config();
  const std::size_t frames = in.size() / c.in_channels;
  ssm::Stream s(model, k);
  std::size_t mb = max_block;
  if (mb == 0)
    mb = *std::max_element(parts.begin(), parts.end());
  s.prepare({c.sample_rate, mb});
  std::vector<float> out(frames * c.out_channels);
  std::size_t pos = 0;
  for (std::size_t b : parts) {
    s.process(in.data() + pos * c.in_channels, out.data() + pos * c.out_channels, b);
    pos += b;
  }
  return out;
}

inline std::vector<float> test_signal(std::size_t frames, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.3f);
  std::vector<float> v(frames * channels);
  for (std::size_t t = 0; t < frames; ++t)
    for (int c = 0; c < channels; ++c)
      v[t * channels + c] = 0.5f * std::sin(0.05f * float(t) * float(c + 1)) + n(rng);
  return v;
}

}  // namespace sw::test
