// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder bench --device cuda`: the GPU backend's figures for a model.
//   streaming: B streams × one block per step (sw::gpu::BatchEngine, a CUDA
//     graph per step, pinned buffers, the copies included). B streams run in
//     real time when a step takes less than the block's duration; the
//     largest such B measured is the capacity (each stream's latency is then
//     at most one block plus one step).
//   offline: long signals through big windows (the parallel scan along
//     time), as `render --device cuda` runs them: × real time.
// Medians of --repeats timed runs after a warm-up (the graph's capture).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "commands.h"
#include "sidewinder/gpu/batch_engine.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void fill_noise(gpu::BatchEngine& e, int rows, int window) {
  std::mt19937 rng(2026);
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  float* in = e.input();
  const std::size_t n = std::size_t(rows) * window * e.in_channels();
  for (std::size_t i = 0; i < n; ++i)
    in[i] = d(rng);
}

// Median seconds of one run(rows, frames).
double time_step(gpu::BatchEngine& e, int rows, int frames, int repeats) {
  e.run(rows, frames);  // captures the graph
  std::vector<double> s;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    e.run(rows, frames);
    s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return median(s);
}

nlohmann::json bench_model(const std::string& name, const ssm::ModelWeights& w, const BenchCliOptions& o, FILE* to) {
  const double rate = w.config.sample_rate > 0 ? w.config.sample_rate : 48000.0;
  nlohmann::json j = {{"name", name}, {"model", ssm::describe(w.config)}, {"sample_rate", rate}};
  std::fprintf(to, "%s: %s\n", name.c_str(), ssm::describe(w.config).c_str());
  // Streaming.
  nlohmann::json streaming = nlohmann::json::array();
  for (int block : {1024, 256}) {
    const double budget = block / rate;
    std::fprintf(to, "  streaming, block %d (%.2f ms of audio per step):\n", block, budget * 1e3);
    std::fprintf(to, "  | streams | step ms | of the block | real time |\n  | ---: | ---: | ---: | :-: |\n");
    int capacity = 0;
    for (int rows : {1, 64, 256, 1024, 2048, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536}) {
      gpu::BatchEngine e(w, gpu::BatchSpec{rows, block});
      fill_noise(e, rows, block);
      const double s = time_step(e, rows, block, o.repeats);
      const bool rt = s <= budget;
      if (rt)
        capacity = rows;
      std::fprintf(to, "  | %d | %.3f | %.0f %% | %s |\n", rows, s * 1e3, 100.0 * s / budget, rt ? "yes" : "no");
      std::fflush(to);
      streaming.push_back({{"block", block}, {"streams", rows}, {"step_ms", s * 1e3}, {"realtime", rt}});
      if (s > 1.5 * budget)
        break;
    }
    std::fprintf(to, "  real-time capacity at block %d: %d streams\n", block, capacity);
    j["capacity_block_" + std::to_string(block)] = capacity;
  }
  j["streaming"] = streaming;
  // Offline: rows long signals, windows of 2^20 (one file) or 2^16 (64 files).
  nlohmann::json offline = nlohmann::json::array();
  std::fprintf(to, "  offline (windows through the parallel scan):\n");
  std::fprintf(to,
               "  | signals | window | samples each | s | x real time (all signals) |\n  | ---: | ---: | ---: | ---: | "
               "---: |\n");
  for (auto [rows, window, windows] : {std::tuple{1, 1 << 20, 16}, std::tuple{64, 1 << 16, 16}}) {
    gpu::BatchEngine e(w, gpu::BatchSpec{rows, window});
    fill_noise(e, rows, window);
    e.run(rows, window);  // capture
    std::vector<double> s;
    for (int r = 0; r < std::max(1, o.repeats / 2); ++r) {
      const auto t0 = Clock::now();
      for (int k = 0; k < windows; ++k)
        e.run(rows, window);
      s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    const double sec = median(s), samples = double(window) * windows;
    const double x = samples * rows / rate / sec;
    std::fprintf(to, "  | %d | %d | %.0f | %.3f | %.0f |\n", rows, window, samples, sec, x);
    offline.push_back(
        {{"signals", rows}, {"window", window}, {"samples", samples}, {"seconds", sec}, {"x_realtime", x}});
  }
  j["offline"] = offline;
  return j;
}

}  // namespace

int run_bench_gpu(const BenchCliOptions& o) {
  const gpu::DeviceInfo d = gpu::device_info();
  FILE* to = o.json ? stderr : stdout;  // the tables; --json: only the JSON on stdout
  std::fprintf(to, "device: %s (%d SMs, %.0f GiB, CUDA driver %s)\n", d.name.c_str(), d.multiprocessors, d.memory_gib,
               d.driver.c_str());
  std::vector<std::pair<std::string, ssm::ModelWeights>> models;
  if (!o.model.empty()) {
    models.emplace_back(o.model, ssm::load_model_weights(o.model));
  } else {
    std::vector<std::string> names = {"fx-s", "fx-m", "fx-m2"};
    if (!o.config.empty())
      names = {o.config};
    for (const auto& n : names)
      models.emplace_back(n, ssm::make_random_weights(ssm::builtin_config(n), 2026));
  }
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [name, w] : models)
    all.push_back(bench_model(name, w, o, to));
  if (o.json) {
    nlohmann::json j = {{"device", "cuda"}, {"gpu", d.name}, {"driver", d.driver}, {"models", all}};
    std::printf("%s\n", j.dump(2).c_str());
  }
  return kExitOk;
}

}  // namespace sw::cli
