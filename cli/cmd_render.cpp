// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder render IN OUT --model FILE`: stream a file through a model.
// The file is read, run through fx::ModelInstance (the plugin's chain:
// libsoxr before and after the model when the file's rate differs from the
// model's) and written in chunks, so memory does not grow with length. The output goes to a temporary file renamed onto
// OUT on success.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "commands.h"
#include "sidewinder/dsp/audio_file.h"
#include "sidewinder/fx/model_instance.h"
#include "sidewinder/gpu/batch_engine.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

namespace {

using Clock = std::chrono::steady_clock;

// SIGINT/SIGTERM during a render: stop at the next chunk, remove the
// temporary output, exit 1. Installed without SA_RESTART so a blocked read
// of stdin returns.
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) {
  g_interrupted.store(true);
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void check_interrupted() {
  if (g_interrupted.load())
    throw std::runtime_error("interrupted; no output written");
}

// Failures writing OUT (disk full, closed pipe, rename) are not bad input: exit 1.
template <class F>
void output_step(const std::string& out, F&& f) {
  try {
    f();
  } catch (const dsp::AudioFileError& e) {
    throw std::runtime_error(std::string(e.what()) + (out == "-" ? "" : " (nothing written to " + out + ")"));
  }
}

}  // namespace

int run_render(const RenderOptions& o) {
  const auto t_start = Clock::now();
  const auto model = ssm::load_model(o.model);
  const ssm::ModelConfig& c = model->config();
  if (!c.has_audio_head) {
    throw InputError(o.model + ": a backbone-only sequence model (no audio.* tensors) cannot render audio");
  }
  if (c.sample_rate <= 0)
    throw InputError(o.model + ": the model declares no sample rate");
  if (o.in != "-" && o.out != "-" && dsp::AudioFileWriter::same_file(o.in, o.out)) {
    throw InputError("OUT " + o.out + " is the same file as IN; refusing to overwrite the input");
  }
  const double mrate = c.sample_rate;
  dsp::RawSpec raw;
  raw.sample_rate = mrate;
  raw.channels = o.raw_channels;
  dsp::AudioFileReader reader = dsp::AudioFileReader::open(o.in, raw);
  const dsp::AudioFormatInfo info = reader.info();
  const int fch = info.channels;
  const double frate = info.sample_rate;
  // A mono model runs once per channel, each with its own state; any other
  // model must take the file's channel count.
  if (c.in_channels != fch && !(c.in_channels == 1 && c.out_channels == 1)) {
    throw InputError(o.in + ": has " + std::to_string(fch) + " channel(s) but the model takes " +
                     std::to_string(c.in_channels));
  }
  const bool resample = frate != mrate;
  // The same effect chain the plugin runs (fx::ModelInstance): resampled
  // through libsoxr when the file's rate is not the model's, with the
  // chain's latency trimmed from the start and the tail flushed at the end.
  const std::size_t chunk = o.offline ? 65536 : 8192;  // file frames per read
  const std::size_t block = o.offline ? chunk : o.block;
  // (ModelInstance splits calls into pieces of at most 64 Ki frames.)
  std::optional<fx::ModelInstance> made;
  try {
    made.emplace(model, fx::HostSpec{frate, std::min<std::size_t>(block, 65536), fch});
  } catch (const std::invalid_argument& e) {
    throw InputError(o.in + ": " + e.what());
  }
  fx::ModelInstance& inst = *made;
  const int och = inst.out_channels();
  const std::size_t latency = static_cast<std::size_t>(inst.latency_samples());
  std::vector<float> fin(chunk * fch), fout(chunk * och);
  std::vector<std::vector<float>> pin(fch, std::vector<float>(block)), pout(och, std::vector<float>(block));
  std::vector<const float*> pin_p(fch);
  std::vector<float*> pout_p(och);

  dsp::AudioFileWriter writer = dsp::AudioFileWriter::create(o.out, frate, och, o.in, info.is_float);
  std::size_t frames_read = 0, frames_written = 0, to_skip = latency;
  // Interleaved frames in -> the chain, `block` frames per call -> trimmed, written.
  auto run = [&](const float* in, std::size_t n) {
    for (std::size_t pos = 0; pos < n; pos += block) {
      const std::size_t b = std::min(block, n - pos);
      for (int c = 0; c < fch; ++c) {
        for (std::size_t t = 0; t < b; ++t)
          pin[c][t] = in[(pos + t) * fch + c];
        pin_p[c] = pin[c].data();
      }
      for (int c = 0; c < och; ++c)
        pout_p[c] = pout[c].data();
      inst.process(pin_p.data(), pout_p.data(), b);
      std::size_t start = std::min(to_skip, b);
      to_skip -= start;
      std::size_t m = std::min(b - start, frames_read - frames_written);  // never runs past the input
      for (std::size_t t = 0; t < m; ++t) {
        for (int c = 0; c < och; ++c)
          fout[t * och + c] = pout[c][start + t];
      }
      if (m)
        output_step(o.out, [&] { writer.write(fout.data(), m); });
      frames_written += m;
    }
  };

  const bool progress = !o.json && isatty(STDERR_FILENO) && info.frames > 0;
  int last_pct = -1;
  install_interrupt_handlers();
  for (;;) {
    std::size_t n = 0;
    try {
      n = reader.read(fin.data(), chunk);
    } catch (const dsp::AudioFileError&) {
      check_interrupted();  // a read cut short by a signal is an interruption, not bad input
      throw;
    }
    check_interrupted();
    if (n == 0)
      break;
    for (std::size_t i = 0; i < n * fch; ++i) {
      if (!std::isfinite(fin[i])) {
        throw InputError(o.in + ": sample " + std::to_string(frames_read + i / fch) + " (channel " +
                         std::to_string(i % fch) + ") is not a finite number");
      }
    }
    frames_read += n;
    run(fin.data(), n);
    if (progress) {
      const int pct = static_cast<int>(100.0 * double(frames_read) / double(info.frames));
      if (pct != last_pct) {
        last_pct = pct;
        const double el = std::chrono::duration<double>(Clock::now() - t_start).count();
        const int bar = pct / 4;
        std::fprintf(stderr, "\r[%.*s%*s] %3d%%  %.1fx real time", bar, "=========================", 25 - bar, "", pct,
                     el > 0 ? double(frames_read) / frate / el : 0.0);
        std::fflush(stderr);
      }
    }
  }
  // The chain's tail: feed silence until every input frame has come out.
  std::fill(fin.begin(), fin.end(), 0.0f);
  while (frames_written < frames_read) {
    const std::size_t before = frames_written;
    run(fin.data(), std::min(chunk, latency + block));
    if (frames_written == before && to_skip == 0)
      break;  // cannot happen: the chain emits one frame per frame after its latency
  }
  check_interrupted();
  output_step(o.out, [&] { writer.commit(); });
  if (progress)
    std::fprintf(stderr, "\n");

  const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
  const double duration = double(frames_read) / frate;
  if (o.json) {
    nlohmann::json j = {{"input", o.in},
                        {"output", o.out},
                        {"model", o.model},
                        {"frames", frames_read},
                        {"sample_rate", frate},
                        {"model_sample_rate", mrate},
                        {"resampled", resample},
                        {"latency_frames", latency},
                        {"channels_in", fch},
                        {"channels_out", och},
                        {"mode", o.offline ? "offline" : "streaming"},
                        {"block", o.offline ? 0 : o.block},
                        {"duration_s", duration},
                        {"elapsed_s", elapsed},
                        {"realtime_factor", elapsed > 0 ? duration / elapsed : 0.0},
                        {"kernels", ssm::best_kernels().isa}};
    std::FILE* to = o.out == "-" ? stderr : stdout;
    std::fprintf(to, "%s\n", j.dump(2).c_str());
  }
  return kExitOk;
}

int run_render_any(const RenderOptions& o) {
  bool gpu = false;
  std::string why;
  if (o.device == "cuda") {
    if (!gpu::cuda_available(&why))
      throw std::runtime_error("--device cuda: " + why);
    gpu = true;
  } else if (o.device == "auto") {
    gpu = gpu_render_possible(o, &why);
    if (!gpu && !o.json)
      std::fprintf(stderr, "sidewinder: rendering on the CPU (%s)\n", why.c_str());
  }
  if (gpu)
    return run_render_gpu(o);
  for (std::size_t i = 0; i < o.inputs.size(); ++i) {
    RenderOptions one = o;
    one.in = o.inputs[i];
    one.out = o.outputs[i];
    const int rc = run_render(one);
    if (rc != kExitOk)
      return rc;
  }
  return kExitOk;
}

}  // namespace sw::cli
