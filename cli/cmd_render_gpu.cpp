// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder render --device cuda`: one or many files through a model on the
// GPU (sw::gpu::BatchEngine). Every channel of every file is one row (one
// stream with its own state) of one batch; the files are read, advanced and
// written a window at a time (memory does not grow with length), the scan
// running in parallel along each window. Outputs go to temporary files
// renamed onto their names only when every file has been rendered.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "commands.h"
#include "sidewinder/dsp/audio_file.h"
#include "sidewinder/gpu/batch_engine.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  std::string in, out;
  std::optional<dsp::AudioFileReader> reader;
  std::optional<dsp::AudioFileWriter> writer;
  dsp::AudioFormatInfo info;
  int row0 = 0;            // first row of this file
  int groups = 1;          // rows: one per channel for a mono model, else one
  std::size_t frames = 0;  // read so far
  std::size_t last = 0;    // frames in the current window
  bool done = false;
};

}  // namespace

bool gpu_render_possible(const RenderOptions& o, std::string* why) {
  if (!gpu::cuda_available(why))
    return false;
  const ssm::ModelWeights w = ssm::load_model_weights(o.model);
  for (const std::string& in : o.inputs) {
    if (in == "-") {
      if (why)
        *why = "stdin input";
      return false;
    }
    dsp::RawSpec raw;
    raw.sample_rate = w.config.sample_rate;
    raw.channels = o.raw_channels;
    const dsp::AudioFormatInfo info = dsp::AudioFileReader::open(in, raw).info();
    if (info.sample_rate != w.config.sample_rate) {
      if (why)
        *why = in + " is at " + std::to_string(int(info.sample_rate)) + " Hz, the model at " +
               std::to_string(int(w.config.sample_rate)) + " Hz";
      return false;
    }
  }
  return true;
}

int run_render_gpu(const RenderOptions& o) {
  const auto t_start = Clock::now();
  const ssm::ModelWeights w = ssm::load_model_weights(o.model);
  const ssm::ModelConfig& c = w.config;
  if (!c.has_audio_head)
    throw InputError(o.model + ": a backbone-only sequence model (no audio.* tensors) cannot render audio");
  if (c.sample_rate <= 0)
    throw InputError(o.model + ": the model declares no sample rate");
  std::vector<Job> jobs(o.inputs.size());
  int rows = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Job& j = jobs[i];
    j.in = o.inputs[i];
    j.out = o.outputs[i];
    if (j.in == "-" || j.out == "-")
      throw InputError("--device cuda renders files; use --device cpu for pipes");
    if (dsp::AudioFileWriter::same_file(j.in, j.out))
      throw InputError("OUT " + j.out + " is the same file as IN; refusing to overwrite the input");
    dsp::RawSpec raw;
    raw.sample_rate = c.sample_rate;
    raw.channels = o.raw_channels;
    j.reader.emplace(dsp::AudioFileReader::open(j.in, raw));
    j.info = j.reader->info();
    if (j.info.sample_rate != c.sample_rate)
      throw InputError(j.in + ": is at " + std::to_string(int(j.info.sample_rate)) + " Hz and the model at " +
                       std::to_string(int(c.sample_rate)) +
                       " Hz; --device cuda takes files at the model's rate (--device cpu resamples)");
    const int fch = j.info.channels;
    if (c.in_channels == fch)
      j.groups = 1;
    else if (c.in_channels == 1 && c.out_channels == 1)
      j.groups = fch;
    else
      throw InputError(j.in + ": has " + std::to_string(fch) + " channel(s) but the model takes " +
                       std::to_string(c.in_channels));
    j.row0 = rows;
    rows += j.groups;
  }
  // A window as long as memory comfortably allows (~2^24 row-samples of activations).
  const int window = int(std::clamp<long>((1L << 24) / rows / 256 * 256, 4096, 1L << 20));
  gpu::BatchEngine engine(w, gpu::BatchSpec{rows, window});
  const int ci = engine.in_channels(), co = engine.out_channels();
  for (Job& j : jobs) {
    const int och = j.groups > 1 ? j.groups : co;
    j.writer.emplace(dsp::AudioFileWriter::create(j.out, c.sample_rate, och, j.in, j.info.is_float));
  }
  std::vector<float> fin, fout;
  std::size_t total = 0;
  for (;;) {
    bool any = false;
    for (Job& j : jobs) {
      const int fch = j.info.channels;
      fin.resize(std::size_t(window) * fch);
      const std::size_t n = j.done ? 0 : j.reader->read(fin.data(), std::size_t(window));
      if (n < std::size_t(window))
        j.done = true;  // the reader is at its end
      for (std::size_t i = 0; i < n * fch; ++i)
        if (!std::isfinite(fin[i]))
          throw InputError(j.in + ": sample " + std::to_string(j.frames + i / fch) + " (channel " +
                           std::to_string(i % fch) + ") is not a finite number");
      std::fill(fin.begin() + n * fch, fin.end(), 0.0f);
      for (int g = 0; g < j.groups; ++g) {
        float* row = engine.input() + std::size_t(j.row0 + g) * window * ci;
        for (std::size_t t = 0; t < std::size_t(window); ++t)
          for (int k = 0; k < ci; ++k)
            row[t * ci + k] = fin[t * fch + (j.groups > 1 ? g : k)];
      }
      j.frames += n;
      total += n;
      any = any || n > 0;
      j.last = n;
    }
    if (!any)
      break;
    engine.run(rows, window);
    for (Job& j : jobs) {
      const std::size_t n = j.last;
      if (n == 0)
        continue;
      const int och = j.groups > 1 ? j.groups : co;
      fout.resize(n * och);
      for (int g = 0; g < j.groups; ++g) {
        const float* row = engine.output() + std::size_t(j.row0 + g) * window * co;
        for (std::size_t t = 0; t < n; ++t)
          for (int k = 0; k < (j.groups > 1 ? 1 : co); ++k) {
            const float v = row[t * co + k];
            if (!std::isfinite(v))
              throw std::runtime_error(o.model + ": the model's output is not finite at sample " +
                                       std::to_string(j.frames - n + t) + " of " + j.in + "; nothing written");
            fout[t * och + (j.groups > 1 ? g : k)] = v;
          }
      }
      j.writer->write(fout.data(), n);
    }
  }
  for (Job& j : jobs)
    j.writer->commit();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
  const double duration = double(total) / c.sample_rate;
  if (o.json) {
    const gpu::DeviceInfo d = gpu::device_info();
    nlohmann::json files = nlohmann::json::array();
    for (const Job& j : jobs)
      files.push_back({{"input", j.in}, {"output", j.out}, {"frames", j.frames}, {"channels", j.info.channels}});
    nlohmann::json out = {{"device", "cuda"},     {"gpu", d.name},
                          {"model", o.model},     {"files", files},
                          {"rows", rows},         {"window", window},
                          {"frames", total},      {"duration_s", duration},
                          {"elapsed_s", elapsed}, {"realtime_factor", elapsed > 0 ? duration / elapsed : 0.0}};
    std::printf("%s\n", out.dump(2).c_str());
  }
  return kExitOk;
}

}  // namespace sw::cli
