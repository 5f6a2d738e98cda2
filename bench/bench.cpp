// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/bench/bench.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "sidewinder/ssm/stream.h"

namespace sw::bench {

namespace {

// CPU time of the calling thread: what the engine costs, not what other
// tenants of a shared machine took from it.
struct CpuClock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
};
using Clock = CpuClock;

double seconds_since(double t0) {
  return Clock::now() - t0;
}

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto p = line.find(':');
      return p == std::string::npos ? line : line.substr(p + 2);
    }
  }
  return "unknown CPU";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<float> bench_signal(std::size_t frames, int channels) {
  std::vector<float> v(frames * static_cast<std::size_t>(channels));
  std::uint32_t s = 12345;
  for (std::size_t i = 0; i < v.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    v[i] = 0.5f * std::sin(0.01f * float(i)) + 0.2f * (float(s >> 8) / 16777216.0f - 0.5f);
  }
  return v;
}

}  // namespace

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

MachinePeak measure_peak(const ssm::KernelTable& k) {
  MachinePeak p;
  p.cpu = cpu_name();
  p.isa = k.isa;
  float sink = 0;
  // FLOPs: best of five ~50 ms probes.
  k.flop_probe(1000000, &sink);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    const double flops = k.flop_probe(30000000, &sink);
    best = std::max(best, flops / seconds_since(t0));
  }
  p.flops_per_s = best;
  // exp: an L1-resident array, repeatedly.
  std::vector<float> x(2048), y(2048);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = -8.0f + 16.0f * float(i) / float(x.size());
  best = 0;
  for (int r = 0; r < 5; ++r) {
    const int reps = 2000;
    const auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) {
      k.exp(x.data(), y.data(), x.size());
      x[i % x.size()] += y[(i * 7) % y.size()] * 1e-30f;  // keep the calls dependent and live
    }
    best = std::max(best, double(reps) * double(x.size()) / seconds_since(t0));
  }
  p.transcendentals_per_s = best;
  return p;
}

namespace {

// One figure: `process(pos, n)` over `frames` frames in blocks of `block`,
// after `reset()`; one warm-up run, then o.repeats timed runs (thread CPU
// time), median reported. Shared by the engine and the LSTM baseline.
template <class Reset, class Process>
BlockResult time_blocks(std::size_t frames, std::size_t block, const std::string& mode, const BenchOptions& o,
                        double ideal_ns_per_sample, Reset&& reset, Process&& process) {
  std::vector<double> ms;
  for (int r = -1; r < o.repeats; ++r) {  // r = -1: warm-up
    reset();
    const auto t0 = Clock::now();
    for (std::size_t pos = 0; pos < frames; pos += block)
      process(pos, std::min(block, frames - pos));
    const double sec = seconds_since(t0);
    if (r >= 0)
      ms.push_back(1000.0 * sec / o.audio_seconds);
  }
  BlockResult br;
  br.mode = mode;
  br.block = block;
  br.ms_per_audio_second = median(ms);
  br.min_ms = *std::min_element(ms.begin(), ms.end());
  br.max_ms = *std::max_element(ms.begin(), ms.end());
  br.x_realtime = 1000.0 / br.ms_per_audio_second;
  const double ns_per_sample = 1e6 * br.ms_per_audio_second / o.sample_rate;
  br.roofline_fraction = ideal_ns_per_sample / ns_per_sample;
  return br;
}

}  // namespace

ModelBench run_model_bench(const std::string& name, const std::shared_ptr<const ssm::Model>& model,
                           const BenchOptions& o, const MachinePeak& peak) {
  ModelBench mb;
  mb.name = name;
  mb.config = model->config();
  mb.cost = model->cost();
  mb.ideal_ns_per_sample =
      1e9 * (mb.cost.flops / peak.flops_per_s + mb.cost.transcendentals / peak.transcendentals_per_s);
  const int ci = mb.config.in_channels, co = mb.config.out_channels;
  const std::size_t frames = static_cast<std::size_t>(o.audio_seconds * o.sample_rate);
  const auto in = bench_signal(frames, ci);
  std::vector<float> out(frames * static_cast<std::size_t>(co));

  auto time_runs = [&](std::size_t block, const std::string& mode) {
    ssm::Stream s(model);
    s.prepare({mb.config.sample_rate, block});
    return time_blocks(
        frames, block, mode, o, mb.ideal_ns_per_sample, [&] { s.reset(); },
        [&](std::size_t pos, std::size_t n) { s.process(in.data() + pos * ci, out.data() + pos * co, n); });
  };
  for (std::size_t b : o.blocks)
    mb.results.push_back(time_runs(b, "streaming"));
  mb.results.push_back(time_runs(o.offline_chunk, "offline"));
  return mb;
}

LstmBench run_lstm_bench(const std::string& name, const LstmWeights& w, const BenchOptions& o,
                         const MachinePeak& peak) {
  LstmBench lb;
  lb.name = name;
  lb.hidden = w.hidden;
  lb.skip = w.skip != 0.0f;
  lb.cost = lstm_cost(w.hidden);
  lb.ideal_ns_per_sample =
      1e9 * (lb.cost.flops / peak.flops_per_s + lb.cost.transcendentals / peak.transcendentals_per_s);
  const std::size_t frames = static_cast<std::size_t>(o.audio_seconds * o.sample_rate);
  const auto in = bench_signal(frames, 1);
  std::vector<float> out(frames);
  LstmRunner runner;
  runner.prepare(w);
  lb.isa = runner.isa();
  auto time_runs = [&](std::size_t block, const std::string& mode) {
    return time_blocks(
        frames, block, mode, o, lb.ideal_ns_per_sample, [&] { runner.reset(); },
        [&](std::size_t pos, std::size_t n) {
          runner.process(in.data() + pos, out.data() + pos, static_cast<int>(n));
        });
  };
  for (std::size_t b : o.blocks)
    lb.results.push_back(time_runs(b, "streaming"));
  lb.results.push_back(time_runs(o.offline_chunk, "offline"));
  return lb;
}

std::vector<ScalingPoint> offline_scaling(const std::shared_ptr<const ssm::Model>& model,
                                          const std::vector<double>& seconds, const BenchOptions& o) {
  const auto& c = model->config();
  const std::size_t chunk = o.offline_chunk;
  const auto in = bench_signal(chunk, c.in_channels);
  std::vector<float> out(chunk * static_cast<std::size_t>(c.out_channels));
  std::vector<ScalingPoint> pts;
  for (double sec : seconds) {
    ssm::Stream s(model);
    s.prepare({c.sample_rate, chunk});
    const std::size_t total = static_cast<std::size_t>(sec * o.sample_rate);
    const auto t0 = Clock::now();
    for (std::size_t pos = 0; pos < total; pos += chunk) {
      const std::size_t n = std::min(chunk, total - pos);
      s.process(in.data(), out.data(), n);
    }
    ScalingPoint p;
    p.audio_seconds = sec;
    p.ns_per_sample = 1e9 * seconds_since(t0) / double(total);
    p.peak_rss_mib = peak_rss_mib();
    pts.push_back(p);
  }
  return pts;
}

}  // namespace sw::bench
