// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder bench`: single-thread CPU time per second of 48 kHz audio for
// each block size, streaming and offline, against the measured roofline;
// optionally the same for the field's LSTM baseline (bench/lstm_baseline.h).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "sidewinder/bench/bench.h"
#include "sidewinder/gpu/batch_engine.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

namespace {

nlohmann::json to_json(const std::vector<bench::BlockResult>& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : results) {
    rows.push_back({{"mode", r.mode},
                    {"block", r.block},
                    {"ms_per_audio_second", r.ms_per_audio_second},
                    {"min_ms", r.min_ms},
                    {"max_ms", r.max_ms},
                    {"x_realtime", r.x_realtime},
                    {"roofline_fraction", r.roofline_fraction}});
  }
  return rows;
}

nlohmann::json to_json(const bench::ModelBench& mb) {
  return {{"name", mb.name},
          {"kind", "ssm"},
          {"model", ssm::describe(mb.config)},
          {"flops_per_sample", mb.cost.flops},
          {"transcendentals_per_sample", mb.cost.transcendentals},
          {"parameters", mb.cost.parameters},
          {"ideal_ns_per_sample", mb.ideal_ns_per_sample},
          {"results", to_json(mb.results)}};
}

std::string describe_lstm(const bench::LstmBench& lb) {
  return "LSTM, 1 layer, hidden " + std::to_string(lb.hidden) + ", input 1, linear head" +
         (lb.skip ? ", input skip" : "");
}

nlohmann::json to_json(const bench::LstmBench& lb) {
  return {{"name", lb.name},
          {"kind", "lstm"},
          {"model", describe_lstm(lb)},
          {"hidden", lb.hidden},
          {"kernels", lb.isa},
          {"flops_per_sample", lb.cost.flops},
          {"transcendentals_per_sample", lb.cost.transcendentals},
          {"parameters", lb.cost.parameters},
          {"ideal_ns_per_sample", lb.ideal_ns_per_sample},
          {"results", to_json(lb.results)}};
}

}  // namespace

int run_bench(const BenchCliOptions& o) {
  if (!o.voice.empty())
    return run_voice_bench(o.voice, o.repeats, o.json);
  if (o.device == "cuda" || (o.device == "auto" && gpu::cuda_available()))
    return run_bench_gpu(o);
  std::vector<std::pair<std::string, std::shared_ptr<const ssm::Model>>> models;
  std::vector<std::pair<std::string, bench::LstmWeights>> lstms;
  for (int h : o.lstm)
    lstms.emplace_back("lstm-" + std::to_string(h), bench::make_random_lstm(h, 2026));
  if (!o.lstm_model.empty())
    lstms.emplace_back(o.lstm_model, bench::load_lstm(o.lstm_model));
  if (!o.model.empty()) {
    models.emplace_back(o.model, ssm::load_model(o.model));
  } else if (lstms.empty() || !o.config.empty()) {
    std::vector<std::string> names = {"fx-s", "fx-m", "fx-m2"};
    if (!o.config.empty())
      names = {o.config};
    for (const auto& n : names) {
      models.emplace_back(n, ssm::Model::create(ssm::make_random_weights(ssm::builtin_config(n), 2026)));
    }
  }
  const ssm::KernelTable& k = ssm::best_kernels();
  const bench::MachinePeak peak = bench::measure_peak(k);
  bench::BenchOptions opt;
  opt.audio_seconds = o.seconds;
  opt.repeats = o.repeats;
  nlohmann::json out = {{"machine",
                         {{"cpu", peak.cpu},
                          {"hardware_threads", std::thread::hardware_concurrency()},
                          {"kernels", peak.isa},
                          {"peak_gflops", peak.flops_per_s * 1e-9},
                          {"peak_gexp_per_s", peak.transcendentals_per_s * 1e-9}}},
                        {"sample_rate", opt.sample_rate},
                        {"threads", 1},
                        {"models", nlohmann::json::array()}};
  if (!o.json) {
    std::printf("machine: %s, kernels %s, single thread\n", peak.cpu.c_str(), peak.isa.c_str());
    std::printf("peak:    %.1f GFLOP/s (multiply-add), %.2f G exp/s (measured)\n", peak.flops_per_s * 1e-9,
                peak.transcendentals_per_s * 1e-9);
  }
  for (const auto& [name, model] : models) {
    if (o.offline_scaling) {
      std::vector<double> lens;
      for (double s : {10.0, 60.0, 600.0, 3600.0, 36000.0})
        if (s <= o.max_scaling_seconds)
          lens.push_back(s);
      const auto pts = bench::offline_scaling(model, lens, opt);
      nlohmann::json arr = nlohmann::json::array();
      if (!o.json)
        std::printf("\n%s offline scaling (chunk %zu):\n  audio s   ns/sample   peak RSS MiB\n", name.c_str(),
                    opt.offline_chunk);
      for (const auto& p : pts) {
        arr.push_back(
            {{"audio_seconds", p.audio_seconds}, {"ns_per_sample", p.ns_per_sample}, {"peak_rss_mib", p.peak_rss_mib}});
        if (!o.json)
          std::printf("  %7.0f   %9.2f   %12.1f\n", p.audio_seconds, p.ns_per_sample, p.peak_rss_mib);
      }
      out["models"].push_back({{"name", name}, {"offline_scaling", arr}});
      continue;
    }
    const auto mb = bench::run_model_bench(name, model, opt, peak);
    out["models"].push_back(to_json(mb));
    if (o.json)
      continue;
    std::printf("\n%s: %s\n", name.c_str(), ssm::describe(mb.config).c_str());
    std::printf("  %.0f FLOP + %.0f exp per sample; at peak: %.1f ns/sample = %.2f ms per second of audio\n",
                mb.cost.flops, mb.cost.transcendentals, mb.ideal_ns_per_sample,
                mb.ideal_ns_per_sample * opt.sample_rate * 1e-6);
    std::printf("  %-10s %6s %12s %12s %10s\n", "mode", "block", "ms/s audio", "x realtime", "roofline");
    for (const auto& r : mb.results) {
      std::printf("  %-10s %6zu %12.2f %12.1f %9.0f%%\n", r.mode.c_str(), r.block, r.ms_per_audio_second, r.x_realtime,
                  100.0 * r.roofline_fraction);
    }
  }
  for (const auto& [name, weights] : lstms) {
    const auto lb = bench::run_lstm_bench(name, weights, opt, peak);
    out["models"].push_back(to_json(lb));
    if (o.json)
      continue;
    std::printf("\n%s: %s (kernel %s)\n", name.c_str(), describe_lstm(lb).c_str(), lb.isa.c_str());
    std::printf("  %.0f FLOP + %.0f tanh per sample; at peak: %.1f ns/sample = %.2f ms per second of audio\n",
                lb.cost.flops, lb.cost.transcendentals, lb.ideal_ns_per_sample,
                lb.ideal_ns_per_sample * opt.sample_rate * 1e-6);
    std::printf("  %-10s %6s %12s %12s %10s\n", "mode", "block", "ms/s audio", "x realtime", "roofline");
    for (const auto& r : lb.results) {
      std::printf("  %-10s %6zu %12.2f %12.1f %9.0f%%\n", r.mode.c_str(), r.block, r.ms_per_audio_second, r.x_realtime,
                  100.0 * r.roofline_fraction);
    }
  }
  if (o.json)
    std::printf("%s\n", out.dump(2).c_str());
  return kExitOk;
}

}  // namespace sw::cli
