// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder render IN OUT --model FILE`: stream a file through a model.
// The file is read, resampled (libsoxr, when its rate differs from the
// model's), processed and written in chunks, so memory does not grow with
// length. The output goes to a temporary file renamed onto OUT on success.
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
#include "sidewinder/dsp/resampler.h"
#include "sidewinder/ssm/model_loader.h"
#include "sidewinder/ssm/stream.h"

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

// Runs model-rate audio through the streams, `block` frames per process()
// call; one stream per file channel (mono models) or one for all channels.
class ModelRunner {
 public:
  ModelRunner(const std::shared_ptr<const ssm::Model>& model, bool per_channel, int file_channels, std::size_t block,
              std::size_t max_frames)
      : per_channel_(per_channel), block_(block) {
    const auto& c = model->config();
    in_ch_ = per_channel ? file_channels : c.in_channels;
    out_ch_ = per_channel ? file_channels : c.out_channels;
    const int n = per_channel ? file_channels : 1;
    for (int i = 0; i < n; ++i) {
      streams_.push_back(std::make_unique<ssm::Stream>(model));
      streams_.back()->prepare({c.sample_rate, block});
    }
    if (per_channel) {
      tmp_in_.resize(max_frames);
      tmp_out_.resize(max_frames);
    }
  }
  int out_channels() const { return out_ch_; }

  void run(const float* in, std::size_t frames, float* out) {
    if (!per_channel_) {
      for (std::size_t pos = 0; pos < frames; pos += block_) {
        const std::size_t b = std::min(block_, frames - pos);
        streams_[0]->process(in + pos * in_ch_, out + pos * out_ch_, b);
      }
      return;
    }
    for (int ch = 0; ch < in_ch_; ++ch) {
      for (std::size_t t = 0; t < frames; ++t)
        tmp_in_[t] = in[t * in_ch_ + ch];
      for (std::size_t pos = 0; pos < frames; pos += block_) {
        const std::size_t b = std::min(block_, frames - pos);
        streams_[ch]->process(tmp_in_.data() + pos, tmp_out_.data() + pos, b);
      }
      for (std::size_t t = 0; t < frames; ++t)
        out[t * out_ch_ + ch] = tmp_out_[t];
    }
  }

 private:
  bool per_channel_;
  std::size_t block_;
  int in_ch_ = 1, out_ch_ = 1;
  std::vector<std::unique_ptr<ssm::Stream>> streams_;
  std::vector<float> tmp_in_, tmp_out_;
};

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
  bool per_channel;
  if (c.in_channels == fch) {
    per_channel = false;
  } else if (c.in_channels == 1 && c.out_channels == 1) {
    per_channel = true;  // each channel through its own state
  } else {
    throw InputError(o.in + ": has " + std::to_string(fch) + " channel(s) but the model takes " +
                     std::to_string(c.in_channels));
  }
  const bool resample = frate != mrate;
  const std::size_t chunk = o.offline ? 65536 : 8192;  // file frames per read
  const std::size_t mcap = (resample ? dsp::Resampler::output_frames_for(chunk, frate, mrate) : chunk) + 64;
  const std::size_t block = o.offline ? mcap : o.block;
  ModelRunner runner(model, per_channel, fch, block, mcap);
  const int och = runner.out_channels();

  std::optional<dsp::Resampler> rs_in, rs_out;
  if (resample) {
    rs_in.emplace(frate, mrate, fch);
    rs_out.emplace(mrate, frate, och);
  }
  const std::size_t ocap = (resample ? dsp::Resampler::output_frames_for(mcap, mrate, frate) : mcap) + 64;
  std::vector<float> fin(chunk * fch), mbuf(mcap * fch), mout(mcap * och), obuf(ocap * och);

  dsp::AudioFileWriter writer = dsp::AudioFileWriter::create(o.out, frate, och, o.in, info.is_float);
  std::size_t frames_read = 0, frames_written = 0;
  auto emit = [&](const float* data, std::size_t n) {  // never runs ahead of the input
    const std::size_t room = frames_read - frames_written;
    n = std::min(n, room);
    if (n)
      output_step(o.out, [&] { writer.write(data, n); });
    frames_written += n;
  };
  auto feed_out = [&](const float* m, std::size_t n) {
    if (!resample) {
      emit(m, n);
      return;
    }
    std::size_t done = 0;
    for (;;) {
      std::size_t used = 0;
      const std::size_t got = rs_out->process(m + done * och, n - done, &used, obuf.data(), ocap);
      done += used;
      if (got)
        emit(obuf.data(), got);
      if (done == n && got == 0)
        break;
    }
  };
  auto feed_model = [&](const float* m, std::size_t n) {
    runner.run(m, n, mout.data());
    feed_out(mout.data(), n);
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
    if (!resample) {
      feed_model(fin.data(), n);
    } else {
      std::size_t done = 0;
      for (;;) {
        std::size_t used = 0;
        const std::size_t got = rs_in->process(fin.data() + done * fch, n - done, &used, mbuf.data(), mcap);
        done += used;
        if (got)
          feed_model(mbuf.data(), got);
        if (done == n && got == 0)
          break;
      }
    }
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
  if (resample) {
    while (std::size_t got = rs_in->flush(mbuf.data(), mcap))
      feed_model(mbuf.data(), got);
    while (std::size_t got = rs_out->flush(obuf.data(), ocap))
      emit(obuf.data(), got);
  }
  if (frames_written < frames_read) {  // resampler tail shorter than the input: pad with silence
    std::vector<float> zeros(std::min<std::size_t>(frames_read - frames_written, 4096) * och, 0.0f);
    while (frames_written < frames_read)
      emit(zeros.data(), zeros.size() / och);
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

}  // namespace sw::cli
