// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The LSTM amp model that the field ships (GuitarML, AIDA-X, NAM: one layer,
// hidden 16 or 40, one input, a linear head and an input skip), as a
// baseline for `sidewinder bench --lstm`. Not part of the engine: it exists to
// measure what such a model costs on the machine that measures ours.
//
//   gates = W_ih·x + b_ih + W_hh·h + b_hh      [4H], order (i, f, g, o)
//   i = σ(gates_i), f = σ(gates_f), g = tanh(gates_g), o = σ(gates_o)
//   c' = f⊙c + i⊙g,  h' = o⊙tanh(c')
//   y = head_w·h' + head_b + skip·x
// ref: torch.nn.LSTM (one layer, batch_first irrelevant), torch.nn.Linear.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sidewinder/realtime.h"

namespace sw::bench {

// PyTorch's tensors as stored, row-major.
struct LstmWeights {
  int hidden = 0;              // H
  std::vector<float> w_ih;     // [4H, 1]  lstm.weight_ih_l0
  std::vector<float> w_hh;     // [4H, H]  lstm.weight_hh_l0
  std::vector<float> b_ih;     // [4H]     lstm.bias_ih_l0
  std::vector<float> b_hh;     // [4H]     lstm.bias_hh_l0
  std::vector<float> head_w;   // [1, H]   head.weight
  float head_b = 0;            //          head.bias
  float skip = 0;              //          skip.weight (0 when the file has none)
  double sample_rate = 48000;  //          metadata, informative only
};

// Random weights as PyTorch initialises nn.LSTM and nn.Linear
// (uniform ±1/√H), skip 1 (GuitarML's `lin(h) + x`). Deterministic in `seed`.
SW_NONREALTIME LstmWeights make_random_lstm(int hidden, std::uint32_t seed);

// Throws std::invalid_argument if the vectors do not have the shapes above.
SW_NONREALTIME void validate(const LstmWeights& w);

// Per-sample cost of the model (same counting as ssm::cost_per_sample:
// a multiply-add is 2 FLOPs; transcendentals = tanh/σ evaluations, 5H).
struct LstmCost {
  double flops = 0;
  double transcendentals = 0;
  double parameters = 0;
};
LstmCost lstm_cost(int hidden) noexcept;

// Loads a PyTorch export (safetensors; metadata format "sidewinder-lstm",
// format_version "1", sample_rate; tensors lstm.weight_ih_l0 [4H, 1],
// lstm.weight_hh_l0 [4H, H], lstm.bias_ih_l0 and lstm.bias_hh_l0 [4H],
// head.weight [1, H], head.bias [1], optional skip.weight [1, 1]).
// Throws ssm::ModelLoadError "<path>: <what is wrong>". (lstm_loader.cpp)
SW_NONREALTIME LstmWeights load_lstm(const std::string& path);

// The scalar reference, in double: y[t] for in[0..n), from zero state.
SW_NONREALTIME std::vector<double> lstm_reference(const LstmWeights& w, const float* in, std::size_t n);

enum class LstmIsa { best, baseline, avx2 };
// Whether this build and CPU can run the AVX2+FMA kernel.
bool lstm_avx2_available() noexcept;

// The runner's tanh, elementwise, on the given ISA's kernel (for tests and
// for stating its accuracy). Throws like LstmRunner::prepare.
SW_NONREALTIME void lstm_fast_tanh(LstmIsa isa, const float* x, float* y, int n);

namespace detail {
struct LstmKernel;
}

// The fast runner: one sample at a time (the recurrence allows nothing else),
// gate matrix-vector product as broadcast-FMA over packed columns, fused
// biases, and a rational tanh (σ(x) = ½ + ½·tanh(x/2), the ½ folded into the
// packed weights). Accuracy against lstm_reference: see docs/performance.md
// and tests/test_lstm_baseline.cpp.
class LstmRunner {
 public:
  LstmRunner() = default;
  LstmRunner(const LstmRunner&) = delete;  // holds pointers into its own buffer
  LstmRunner& operator=(const LstmRunner&) = delete;

  // Packs the weights (allocates; throws std::invalid_argument on bad shapes,
  // std::runtime_error if `isa` is avx2 and the CPU lacks it). best follows
  // SIDEWINDER_ISA like the engine (avx2 unless told baseline/reference).
  SW_NONREALTIME void prepare(const LstmWeights& w, LstmIsa isa = LstmIsa::best);
  // Zero state. Allocates nothing.
  SW_REALTIME void reset() noexcept;
  // out[t] for in[t], t < n, continuing the state. Allocates nothing; in and
  // out may alias. Requires prepare().
  SW_REALTIME void process(const float* in, float* out, int n) noexcept;

  const char* isa() const noexcept;
  int hidden() const noexcept { return hidden_; }

 private:
  const detail::LstmKernel* kernel_ = nullptr;
  int hidden_ = 0;
  int width_ = 0;               // floats per vector of the kernel (VW)
  int groups_ = 0;              // ceil(H / VW)
  int cur_ = 0;                 // which half of h_ holds the current h
  int h_stride_ = 0;            // floats per half of h_
  std::vector<float> storage_;  // the arrays below, 64-byte aligned
  float* w_hh_ = nullptr;       // [groups][H][4][VW], rows i, f, o scaled by ½
  float* w_ih_b_ = nullptr;     // [groups][2][4][VW]: W_ih column, then b_ih + b_hh (i, f, o scaled by ½)
  float* head_ = nullptr;       // [groups·VW]
  float* h_ = nullptr;          // [2][h_stride_]
  float* c_ = nullptr;          // [groups·VW]
  float* z_ = nullptr;          // [groups][4][VW] scratch
  float head_b_ = 0, skip_ = 0;
};

}  // namespace sw::bench
