// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder speak [TEXT] -o OUT [--voice FILE] [--rate R] [--pitch ST]
// [--volume V] [--ssml] [--timestamps FILE] [--format s16|f32]`: text (or
// SSML; stdin when no TEXT) to speech with a Sidewinder voice. OUT is a file
// (.wav .flac .ogg .aif .f32: written to a temporary and renamed on success)
// or "-": raw PCM on stdout, written as it is synthesised.
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "sidewinder/audio_io/portaudio_device.h"
#include "sidewinder/dsp/audio_file.h"
#include "sidewinder/dsp/resampler.h"
#include "sidewinder/speech/markup.h"
#include "sidewinder/speech/speaker.h"
#include "sidewinder/speech/voice_loader.h"

namespace sw::cli {

std::string default_voice_path() {
  if (const char* env = std::getenv("SIDEWINDER_VOICE"); env && *env)
    return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path() / ".." / "share" / "sidewinder" / "voices" / kDefaultVoiceFile;
    if (fs::exists(installed, ec))
      return installed.lexically_normal().string();
  }
  return std::string(SIDEWINDER_VOICES_DIR) + "/" + kDefaultVoiceFile;
}

namespace {

void write_timestamps(const std::string& path, const std::vector<speech::Timestamp>& ts, const speech::VoiceModel& v) {
  nlohmann::json words = nlohmann::json::array(), phonemes = nlohmann::json::array();
  for (const auto& t : ts) {
    const nlohmann::json e = {{"text", t.text}, {"start", t.start_s}, {"end", t.end_s}};
    (t.kind == speech::Timestamp::Kind::word ? words : phonemes).push_back(e);
  }
  const nlohmann::json j = {
      {"voice", v.name}, {"sample_rate", v.sample_rate()}, {"words", words}, {"phonemes", phonemes}};
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp);
    if (!f)
      throw InputError(path + ": cannot create: " + std::strerror(errno));
    f << j.dump(1) << "\n";
    if (!f.flush())
      throw std::runtime_error(path + ": write failed");
  }
  std::filesystem::rename(tmp, path);
}

std::size_t speak(speech::Speaker& speaker, const std::string& text, const speech::SpeakOptions& so,
                  const speech::Speaker::Sink& sink, std::vector<speech::Timestamp>* ts) {
  std::size_t n = 0;
  try {
    n = speaker.speak_text(text, so, sink, ts);
  } catch (const speech::SpeakError& e) {
    throw InputError(e.what());
  }
  if (speaker.unknown_symbols() > 0)
    std::fprintf(stderr, "sidewinder: %zu phoneme symbol(s) unknown to voice %s were skipped\n",
                 speaker.unknown_symbols(), speaker.voice().name.c_str());
  return n;
}

}  // namespace

int run_speak(const SpeakCliOptions& o) {
  const std::string text = speech_input(o.text, o.has_text);
  const auto t_start = std::chrono::steady_clock::now();
  const std::string voice_path = o.voice.empty() ? default_voice_path() : o.voice;
  auto voice = speech::load_voice(voice_path);
  speech::Speaker speaker(voice);
  if (o.f0 > 0)
    speaker.stream().set_f0_hz(float(o.f0));
  speech::SpeakOptions so;
  so.ssml = o.ssml;
  so.rate = o.rate;
  so.pitch_semitones = o.pitch;
  so.volume = o.volume;
  so.seed = o.seed;
  // Bad markup and options are found before anything is written: no output file is created.
  try {
    if (o.ssml)
      speech::parse_ssml(text);
    else
      speech::parse_plain(text);
  } catch (const speech::MarkupError& e) {
    throw InputError(std::string(o.ssml ? "SSML " : "text ") + e.what());
  }
  const double rate = voice->sample_rate();
  std::vector<speech::Timestamp> ts;
  double first_audio_ms = -1;
  std::size_t samples = 0;
  // --play: the device's own rate (JACK takes no other), through libsoxr, into the player's ring.
  std::unique_ptr<audio_io::Player> player;
  std::unique_ptr<dsp::Resampler> to_device;
  std::vector<float> dev_buf;
  if (o.play) {
    const audio_io::DeviceChoice where{o.audio_api, o.audio_device};
    audio_io::PortAudio pa;
    const double dev_rate = audio_io::PortAudio::default_rate(where, false, true);
    player = std::make_unique<audio_io::Player>(where, dev_rate, 256, std::size_t(dev_rate));
    if (dev_rate != rate)
      to_device = std::make_unique<dsp::Resampler>(rate, dev_rate, 1);
    player->start();
  }
  auto play = [&](const float* x, std::size_t n) {
    if (!player)
      return;
    if (!to_device)
      return player->write_all(x, n);
    dev_buf.resize(dsp::Resampler::output_frames_for(n, to_device->in_rate(), to_device->out_rate()) + 64);
    std::size_t done = 0;
    while (done < n) {
      std::size_t used = 0;
      const std::size_t got = to_device->process(x + done, n - done, &used, dev_buf.data(), dev_buf.size());
      player->write_all(dev_buf.data(), got);
      done += used;
      if (!used && !got)
        break;
    }
  };
  if (o.out.empty()) {  // --play alone
    auto sink = [&](const float* x, std::size_t n) {
      if (first_audio_ms < 0)
        first_audio_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
      play(x, n);
      return true;
    };
    samples = speak(speaker, text, so, sink, o.timestamps.empty() ? nullptr : &ts);
  } else if (o.out == "-") {
    // Raw PCM on stdout as it is made: s16le (clipped) or f32le.
    std::vector<std::int16_t> s16;
    auto sink = [&](const float* x, std::size_t n) {
      if (first_audio_ms < 0)
        first_audio_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
      std::size_t wrote = 0;
      if (o.format == "f32") {
        wrote = std::fwrite(x, sizeof(float), n, stdout);
      } else {
        s16.resize(n);
        for (std::size_t i = 0; i < n; ++i)
          s16[i] = std::int16_t(std::lrint(std::clamp(x[i], -1.0f, 1.0f) * 32767.0f));
        wrote = std::fwrite(s16.data(), sizeof(std::int16_t), n, stdout);
      }
      play(x, n);
      if (wrote != n || std::fflush(stdout) != 0)
        throw std::runtime_error(std::string("-: write to stdout failed: ") + std::strerror(errno));
      return true;
    };
    samples = speak(speaker, text, so, sink, o.timestamps.empty() ? nullptr : &ts);
  } else {
    auto writer = dsp::AudioFileWriter::create(o.out, rate, 1);
    auto sink = [&](const float* x, std::size_t n) {
      if (first_audio_ms < 0)
        first_audio_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
      writer.write(x, n);
      play(x, n);
      return true;
    };
    samples = speak(speaker, text, so, sink, o.timestamps.empty() ? nullptr : &ts);
    writer.commit();
  }
  if (player) {
    if (to_device) {
      dev_buf.resize(4096);
      while (std::size_t got = to_device->flush(dev_buf.data(), dev_buf.size()))
        player->write_all(dev_buf.data(), got);
    }
    player->drain();
    player->stop();
  }
  if (!o.timestamps.empty())
    write_timestamps(o.timestamps, ts, *voice);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (o.json) {
    nlohmann::json j = {{"voice", voice->name},
                        {"sample_rate", rate},
                        {"samples", samples},
                        {"seconds", samples / rate},
                        {"first_audio_ms", first_audio_ms},
                        {"wall_seconds", wall},
                        {"real_time_factor", samples ? wall / (samples / rate) : 0.0}};
    if (player) {
      const auto& c = player->counters();
      j["play"] = {{"device", player->device_name()},
                   {"frames", c.frames.load()},
                   {"underruns", c.underruns.load()},
                   {"silence_frames", c.silence_frames.load()},
                   {"output_latency_ms", 1000 * player->output_latency_s()}};
    }
    std::fprintf(o.out == "-" ? stderr : stdout, "%s\n", j.dump().c_str());
  }
  return kExitOk;
}

}  // namespace sw::cli
