// SPDX-License-Identifier: GPL-3.0-or-later
// The LSTM baseline: random weights, the double reference, and the runner's
// packing and ISA choice. The kernels: lstm_kernels.cpp; the loader:
// lstm_loader.cpp.
#include "sidewinder/bench/lstm_baseline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

#include "lstm_kernels.h"
#include "sidewinder/denormal_guard.h"

namespace sw::bench {

LstmWeights make_random_lstm(int hidden, std::uint32_t seed) {
  if (hidden < 1 || hidden > 4096)
    throw std::invalid_argument("LSTM hidden size must be 1..4096");
  // ref: torch.nn.LSTM.reset_parameters, torch.nn.Linear.reset_parameters
  std::mt19937 rng(seed);
  const float k = 1.0f / std::sqrt(float(hidden));
  std::uniform_real_distribution<float> u(-k, k);
  const auto H = static_cast<std::size_t>(hidden);
  auto fill = [&](std::size_t n) {
    std::vector<float> v(n);
    for (float& x : v)
      x = u(rng);
    return v;
  };
  LstmWeights w;
  w.hidden = hidden;
  w.w_ih = fill(4 * H);
  w.w_hh = fill(4 * H * H);
  w.b_ih = fill(4 * H);
  w.b_hh = fill(4 * H);
  w.head_w = fill(H);
  w.head_b = u(rng);
  w.skip = 1.0f;
  return w;
}

void validate(const LstmWeights& w) {
  if (w.hidden < 1 || w.hidden > 4096)
    throw std::invalid_argument("LSTM hidden size " + std::to_string(w.hidden) + " is not in 1..4096");
  const auto H = static_cast<std::size_t>(w.hidden);
  auto check = [](const char* what, const std::vector<float>& v, std::size_t n) {
    if (v.size() != n)
      throw std::invalid_argument(std::string("LSTM ") + what + " has " + std::to_string(v.size()) +
                                  " values, expected " + std::to_string(n));
  };
  check("w_ih", w.w_ih, 4 * H);
  check("w_hh", w.w_hh, 4 * H * H);
  check("b_ih", w.b_ih, 4 * H);
  check("b_hh", w.b_hh, 4 * H);
  check("head_w", w.head_w, H);
}

LstmCost lstm_cost(int hidden) noexcept {
  const double H = hidden;
  LstmCost c;
  // W_hh·h: 4H·H multiply-adds; W_ih·x + b: 4H; cell c' = f·c + i·g and
  // h' = o·tanh(c'): 3H; head: H multiply-adds, + head_b + skip·x.
  c.flops = 2 * 4 * H * H + 2 * 4 * H + 3 * H + 2 * H + 3;
  c.transcendentals = 5 * H;                             // σ ×3, tanh ×2 per unit
  c.parameters = 4 * H + 4 * H * H + 8 * H + H + 1 + 1;  // PyTorch counts both biases
  return c;
}

std::vector<double> lstm_reference(const LstmWeights& w, const float* in, std::size_t n) {
  validate(w);
  const auto H = static_cast<std::size_t>(w.hidden);
  std::vector<double> h(H, 0.0), c(H, 0.0), z(4 * H), y(n);
  auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (std::size_t t = 0; t < n; ++t) {
    const double x = in[t];
    for (std::size_t r = 0; r < 4 * H; ++r) {
      double s = double(w.w_ih[r]) * x + double(w.b_ih[r]) + double(w.b_hh[r]);
      for (std::size_t k = 0; k < H; ++k)
        s += double(w.w_hh[r * H + k]) * h[k];
      z[r] = s;
    }
    double out = double(w.head_b) + double(w.skip) * x;
    for (std::size_t j = 0; j < H; ++j) {
      const double i = sigmoid(z[j]), f = sigmoid(z[H + j]), g = std::tanh(z[2 * H + j]), o = sigmoid(z[3 * H + j]);
      c[j] = f * c[j] + i * g;
      h[j] = o * std::tanh(c[j]);
      out += double(w.head_w[j]) * h[j];
    }
    y[t] = out;
  }
  return y;
}

bool lstm_avx2_available() noexcept {
#if defined(SIDEWINDER_HAVE_AVX2_LSTM) && (defined(__GNUC__) || defined(__clang__))
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return supported;
#else
  return false;
#endif
}

namespace {

const detail::LstmKernel& choose_kernel(LstmIsa isa) {
  if (isa == LstmIsa::best) {
    // As the engine's best_kernels(): SIDEWINDER_ISA=baseline|reference forces the baseline.
    const char* want = std::getenv("SIDEWINDER_ISA");
    const bool forced = want && (std::strcmp(want, "baseline") == 0 || std::strcmp(want, "reference") == 0);
    isa = lstm_avx2_available() && !forced ? LstmIsa::avx2 : LstmIsa::baseline;
  }
  if (isa == LstmIsa::avx2) {
#if defined(SIDEWINDER_HAVE_AVX2_LSTM)
    if (lstm_avx2_available())
      return detail::lstm_kernel_avx2();
#endif
    throw std::runtime_error("LSTM: the AVX2+FMA kernel is not available on this build or CPU");
  }
  return detail::lstm_kernel_baseline();
}

float* align64(float* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<float*>((a + 63) & ~std::uintptr_t(63));
}

}  // namespace

void lstm_fast_tanh(LstmIsa isa, const float* x, float* y, int n) {
  choose_kernel(isa).tanh(x, y, n);
}

void LstmRunner::prepare(const LstmWeights& w, LstmIsa isa) {
  validate(w);
  const detail::LstmKernel& k = choose_kernel(isa);
  const int H = w.hidden, VW = k.width, G = (H + VW - 1) / VW;
  // One 64-byte-aligned buffer; every array a multiple of 16 floats.
  auto round16 = [](std::size_t n) { return (n + 15) / 16 * 16; };
  const std::size_t n_whh = round16(std::size_t(G) * H * 4 * VW), n_wib = round16(std::size_t(G) * 8 * VW),
                    n_vec = round16(std::size_t(G) * VW);
  storage_.assign(n_whh + n_wib + 8 * n_vec + 16, 0.0f);
  float* p = align64(storage_.data());
  w_hh_ = p, p += n_whh;
  w_ih_b_ = p, p += n_wib;
  head_ = p, p += n_vec;
  h_ = p, p += 2 * n_vec;
  c_ = p, p += n_vec;
  z_ = p;  // 4·n_vec
  h_stride_ = static_cast<int>(n_vec);
  // Gate rows r = gate·H + unit (PyTorch); i, f, o scaled by ½ (exact).
  for (int gate = 0; gate < 4; ++gate) {
    const float s = gate == 2 ? 1.0f : 0.5f;
    for (int unit = 0; unit < H; ++unit) {
      const int q = unit / VW, lane = unit % VW, r = gate * H + unit;
      for (int col = 0; col < H; ++col)
        w_hh_[((std::size_t(q) * H + col) * 4 + gate) * VW + lane] = s * w.w_hh[std::size_t(r) * H + col];
      w_ih_b_[(q * 8 + gate) * VW + lane] = s * w.w_ih[r];
      w_ih_b_[(q * 8 + 4 + gate) * VW + lane] = s * (w.b_ih[r] + w.b_hh[r]);
    }
  }
  for (int unit = 0; unit < H; ++unit)
    head_[unit] = w.head_w[unit];
  head_b_ = w.head_b;
  skip_ = w.skip;
  kernel_ = &k;
  hidden_ = H;
  width_ = VW;
  groups_ = G;
  reset();
}

void LstmRunner::reset() noexcept {
  if (!kernel_)
    return;
  std::fill(h_, h_ + 2 * h_stride_, 0.0f);
  std::fill(c_, c_ + groups_ * width_, 0.0f);
  cur_ = 0;
}

void LstmRunner::process(const float* in, float* out, int n) noexcept {
  if (!kernel_ || n <= 0)
    return;
  ScopedDenormalGuard guard;
  const detail::LstmArgs a{hidden_, groups_, w_hh_, w_ih_b_, head_, head_b_, skip_, h_, h_stride_, c_, z_};
  cur_ = kernel_->process(a, cur_, in, out, n);
}

const char* LstmRunner::isa() const noexcept {
  return kernel_ ? kernel_->isa : "none";
}

}  // namespace sw::bench
