// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "sidewinder/bench/lstm_baseline.h"
#include "sidewinder/ssm/kernels.h"
#include "sidewinder/ssm/model.h"

namespace sw::bench {

// Single-thread peak rates of this machine, measured with the kernel table's
// own ISA: multiply-add FLOPs (flop_probe) and vectorised exp evaluations.
struct MachinePeak {
  std::string cpu;  // /proc/cpuinfo model name
  std::string isa;  // kernel table used
  double flops_per_s = 0;
  double transcendentals_per_s = 0;
};
MachinePeak measure_peak(const ssm::KernelTable& kernels);

struct BenchOptions {
  double sample_rate = 48000;
  double audio_seconds = 2.0;  // signal length per timed run
  int repeats = 7;             // timed runs; the median is reported
  std::vector<std::size_t> blocks = {1, 16, 64, 256, 1024, 4096};
  std::size_t offline_chunk = 65536;
};

struct BlockResult {
  std::string mode;  // "streaming" or "offline"
  std::size_t block = 0;
  double ms_per_audio_second = 0;  // median CPU ms per second of audio
  double min_ms = 0, max_ms = 0;   // spread over the repeats
  double x_realtime = 0;
  double roofline_fraction = 0;  // ideal time at peak / measured time
};

struct ModelBench {
  std::string name;
  ssm::ModelConfig config;
  ssm::ModelCost cost;
  double ideal_ns_per_sample = 0;  // flops/peak + transcendentals/peak
  std::vector<BlockResult> results;
};

ModelBench run_model_bench(const std::string& name, const std::shared_ptr<const ssm::Model>& model,
                           const BenchOptions& options, const MachinePeak& peak);

// The LSTM baseline (lstm_baseline.h) timed exactly as run_model_bench times
// the engine: same signal, block sizes, repeats and thread-CPU clock.
struct LstmBench {
  std::string name;
  int hidden = 0;
  bool skip = false;
  std::string isa;  // kernel the runner used
  LstmCost cost;
  double ideal_ns_per_sample = 0;  // flops/peak + tanh evaluations/exp peak
  std::vector<BlockResult> results;
};
LstmBench run_lstm_bench(const std::string& name, const LstmWeights& weights, const BenchOptions& options,
                         const MachinePeak& peak);

// Offline processing of generated audio of growing length, in fixed chunks:
// time per sample and the process's peak resident memory after each length.
struct ScalingPoint {
  double audio_seconds = 0;
  double ns_per_sample = 0;
  double peak_rss_mib = 0;
};
std::vector<ScalingPoint> offline_scaling(const std::shared_ptr<const ssm::Model>& model,
                                          const std::vector<double>& seconds, const BenchOptions& options);

double peak_rss_mib();

}  // namespace sw::bench
