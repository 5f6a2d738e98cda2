// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace sw::cli {

// Exit statuses (documented in README): 0 ok, 1 other failure, 2 usage, 3 bad input or model file.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBadInput = 3;

// A problem with what the user gave us (file, model, combination): exit 3.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RenderOptions {
  std::string in, out, model;
  std::size_t block = 512;
  bool offline = false;
  bool json = false;
  int raw_channels = 1;
};
int run_render(const RenderOptions& o);

struct InfoOptions {
  std::string model;
  bool json = false;
};
int run_info(const InfoOptions& o);

struct BenchCliOptions {
  std::string model;
  std::string config;  // built-in config name; empty with no --model: all three
  bool json = false;
  double seconds = 2.0;
  int repeats = 7;
  bool offline_scaling = false;
  double max_scaling_seconds = 3600;
  std::vector<int> lstm;   // LSTM baselines (random weights) of these hidden sizes
  std::string lstm_model;  // an LSTM baseline from a file (bench/lstm_loader.cpp)
};
int run_bench(const BenchCliOptions& o);

// Text accepted by the speech commands at most (a huge request is refused).
constexpr std::size_t kMaxSpeechInputBytes = 1u << 20;

struct PhonemizeOptions {
  std::string text;
  bool has_text = false;  // else stdin
  bool ssml = false;
  bool json = false;
  std::string voice = "en-us";  // espeak-ng voice
};
int run_phonemize(const PhonemizeOptions& o);

}  // namespace sw::cli
