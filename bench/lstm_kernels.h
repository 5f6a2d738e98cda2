// SPDX-License-Identifier: GPL-3.0-or-later
// Private to the bench library: the per-ISA LSTM kernels (lstm_kernels.cpp,
// compiled once for the baseline ISA and once for AVX2+FMA) and the packed
// layout they read (written by LstmRunner::prepare, lstm_baseline.cpp).
#pragma once

#include "sidewinder/realtime.h"

namespace sw::bench::detail {

// VW = the kernel's vector width (LstmKernel::width); G = ceil(H / VW).
// Gate rows i, f, o are pre-scaled by ½ so that every gate goes through one
// tanh: σ(z) = ½ + ½·tanh(z/2).
struct LstmArgs {
  int hidden;           // H
  int groups;           // G
  const float* w_hh;    // [G][H][4][VW]: column k of W_hh, units of group q, gates i, f, g, o
  const float* w_ih_b;  // [G][2][4][VW]: W_ih, then b_ih + b_hh
  const float* head;    // [G][VW]: head.weight, zero-padded
  float head_b, skip;
  float* h;      // [2][h_stride]: current and next hidden state (padding stays 0)
  int h_stride;  // ≥ G·VW
  float* c;      // [G·VW]
  float* z;      // [G][4][VW]: scratch, the gate pre-activations of one step
};

struct LstmKernel {
  const char* isa;
  int width;  // VW
  // Runs n samples from the state in h[cur]; returns the half holding the
  // final state. Allocates nothing.
  int (*process)(const LstmArgs& a, int cur, const float* in, float* out, int n) noexcept;
  // y = the kernel's tanh(x), elementwise (for the accuracy test).
  void (*tanh)(const float* x, float* y, int n) noexcept;
};

const LstmKernel& lstm_kernel_baseline() noexcept;
const LstmKernel& lstm_kernel_avx2() noexcept;  // only where the CPU has AVX2 and FMA

}  // namespace sw::bench::detail
