// SPDX-License-Identifier: GPL-3.0-or-later
// sidewinderd — the Sidewinder speech daemon: the Wyoming protocol over TCP
// (Home Assistant's voice pipeline) and the OpenAI-compatible HTTP API, both
// fed by one engine that advances every stream block by block.
// Configuration: flags, or the same keys in an INI/TOML file given with
// --config.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fstream>

#include "sidewinder/audio_io/midi_input.h"
#include "sidewinder/daemon/http_server.h"
#include "sidewinder/daemon/local_playback.h"
#include "sidewinder/daemon/wyoming_server.h"
#include "sidewinder/speech/voice_loader.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultVoice = "allison-slt";

int level_rank(const std::string& l) {
  return l == "debug" ? 0 : l == "info" ? 1 : l == "warn" ? 2 : 3;
}

// The shipped voices: installed (<prefix>/share/sidewinder/voices) or the source tree's.
fs::path voices_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path() / ".." / "share" / "sidewinder" / "voices";
    if (fs::is_directory(installed, ec))
      return installed.lexically_normal();
  }
  return SIDEWINDER_VOICES_DIR;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"sidewinderd " SIDEWINDER_VERSION
               " — Sidewinder speech daemon (Wyoming over TCP, OpenAI-compatible HTTP)"};
  app.set_version_flag("--version", SIDEWINDER_VERSION);
  app.set_config("--config", "", "Read these options from an INI/TOML file (key = value)");
  std::vector<std::string> voice_files;
  sw::wyoming::ServerConfig cfg;
  sw::daemon::EngineConfig ecfg;
  cfg.version = SIDEWINDER_VERSION;
  sw::daemon::HttpConfig http;
  http.version = SIDEWINDER_VERSION;
  std::string log_level = "info", token_file;
  bool listen_any = false, no_http = false, no_wyoming = false, play = false, list_midi = false;
  std::string audio_api, audio_device, midi_port, midi_api;
  app.add_option("--voice", voice_files,
                 "Voice file(s) to serve; the first is the default (default: the shipped voices)");
  app.add_option("--host", cfg.host, "Address to listen on (default 127.0.0.1: this machine only)");
  app.add_flag("--listen-any", listen_any, "Listen on every address (0.0.0.0): reachable from the network");
  app.add_option("--port", cfg.port, "Wyoming TCP port (default 10200)");
  app.add_option("--http-port", http.port, "OpenAI-compatible HTTP port (default 10201)");
  app.add_flag("--no-wyoming", no_wyoming, "Do not serve Wyoming");
  app.add_flag("--no-http", no_http, "Do not serve HTTP");
  app.add_option("--token", http.token, "HTTP: require 'Authorization: Bearer TOKEN' (or SIDEWINDERD_TOKEN)")
      ->envname("SIDEWINDERD_TOKEN");
  app.add_option("--token-file", token_file, "HTTP: the bearer token, from the first line of this file");
  app.add_option("--max-input", http.max_input_chars, "HTTP: characters of input per request (default 4096)")
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 20));
  app.add_option("--http-threads", http.threads, "HTTP connections served at once (default 64)")
      ->check(CLI::Range(std::size_t(1), std::size_t(4096)));
  app.add_option("--engine-threads", ecfg.threads, "Engine threads advancing the streams (default 1)")
      ->check(CLI::Range(std::size_t(1), std::size_t(256)));
  app.add_option("--max-streams", ecfg.max_streams, "Streams spoken at once, both protocols (default 64)")
      ->check(CLI::Range(std::size_t(1), std::size_t(65536)));
  app.add_option("--max-request-time", cfg.max_request_s, "Seconds one request's answer may take (default 600)")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--max-connections", cfg.max_connections, "Concurrent clients (default 64)")
      ->check(CLI::Range(std::size_t(1), std::size_t(4096)));
  app.add_option("--max-text", cfg.session.max_text_bytes, "Bytes of text per request (default 10000)")
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 22));
  app.add_option("--client-buffer", cfg.max_queued_output_bytes,
                 "Bytes of audio queued for one client before it is dropped as too slow (default 8 MiB)")
      ->check(CLI::Range(std::size_t(65536), std::size_t(1) << 30));
  app.add_option("--idle-timeout", cfg.idle_timeout_s, "Seconds without a byte from a client before it is closed")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--workers", cfg.worker_threads, "Synthesis threads (default 2)")
      ->check(CLI::Range(std::size_t(1), std::size_t(256)));
  app.add_option("--samples-per-chunk", cfg.session.samples_per_chunk, "Samples per audio-chunk (default 1024)")
      ->check(CLI::Range(std::size_t(64), std::size_t(65536)));
  app.add_flag("--play", play, "Also say everything aloud on this machine's sound device (PortAudio)");
  app.add_option("--audio-api", audio_api, "PortAudio host API for --play: alsa, jack, ...");
  app.add_option("--audio-device", audio_device, "Device for --play: index or part of the name");
  app.add_option("--midi", midi_port,
                 "MIDI input (port index, part of its name, or 'virtual'): notes set the pitch, CC7 volume, "
                 "CC20 rate, program change the voice");
  app.add_option("--midi-api", midi_api, "MIDI API: alsa or jack")->check(CLI::IsMember({"", "alsa", "jack"}));
  app.add_flag("--list-midi", list_midi, "List the MIDI input ports and exit");
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  if (listen_any)
    cfg.host = "0.0.0.0";
  http.host = cfg.host;
  http.max_request_s = cfg.max_request_s;
  http.idle_timeout_s = std::min(cfg.idle_timeout_s, 60.0);
  if (!token_file.empty()) {
    std::ifstream f(token_file);
    if (!f || !std::getline(f, http.token) || http.token.empty()) {
      std::fprintf(stderr, "sidewinderd: --token-file %s: cannot read a token from it\n", token_file.c_str());
      return 1;
    }
  }
  if (list_midi) {
    try {
      const auto ports = sw::audio_io::MidiInput::ports(midi_api);
      for (std::size_t i = 0; i < ports.size(); ++i)
        std::printf("%3zu  %s\n", i, ports[i].c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sidewinderd: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  if (no_http && no_wyoming) {
    std::fprintf(stderr, "sidewinderd: --no-http and --no-wyoming: nothing to serve\n");
    return 1;
  }

  std::mutex log_mu;
  const int min_rank = level_rank(log_level);
  auto log = [&](const char* level, const std::string& msg) {
    if (level_rank(level) < min_rank)
      return;
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::lock_guard<std::mutex> l(log_mu);
    std::fprintf(stderr, "ts=%s level=%s %s\n", ts, level, msg.c_str());
  };

  sw::wyoming::VoiceSet voices;
  try {
    if (voice_files.empty()) {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(voices_dir()))
        if (e.path().extension() == ".safetensors")
          found.push_back(e.path());
      std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
        const bool da = a.stem() == kDefaultVoice, db = b.stem() == kDefaultVoice;
        return da != db ? da : a < b;
      });
      for (const auto& p : found)
        voice_files.push_back(p.string());
    }
    if (voice_files.empty()) {
      log("error", "event=no-voices dir=" + voices_dir().string());
      return 1;
    }
    for (const auto& f : voice_files) {
      voices.voices.push_back(sw::speech::load_voice(f));
      log("info", "event=voice name=" + voices.voices.back()->name + " file=" + f);
    }
  } catch (const std::exception& e) {
    log("error", std::string("event=load-failed error=\"") + e.what() + "\"");
    return 1;
  }

  // Signals go to one thread that asks the server to drain and stop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  try {
    sw::daemon::VoiceControls controls;  // MIDI's
    ecfg.controls = &controls;
    voices.controls = &controls;
    sw::daemon::SynthEngine engine(ecfg);
    sw::daemon::Metrics metrics;
    auto speakers = sw::daemon::SpeakerPool::create();
    std::unique_ptr<sw::daemon::LocalPlayback> local;
    if (play) {
      local = std::make_unique<sw::daemon::LocalPlayback>(engine, speakers,
                                                          sw::audio_io::DeviceChoice{audio_api, audio_device});
      log("info", "event=play device=\"" + local->device_name() + "\"");
      voices.also_play = [&local](const std::string& t, std::shared_ptr<const sw::speech::VoiceModel> v,
                                  const sw::speech::SpeakOptions& o) { local->say(t, std::move(v), o); };
    }
    std::unique_ptr<sw::audio_io::MidiInput> midi;
    std::atomic<bool> midi_stop{false};
    std::thread midi_thread;
    if (!midi_port.empty()) {
      midi = std::make_unique<sw::audio_io::MidiInput>(midi_api, midi_port);
      log("info", "event=midi port=\"" + midi->port_name() + "\"");
      midi_thread = std::thread([&] {  // MIDI's queue -> the live controls
        sw::daemon::MidiVoiceChart chart;
        while (!midi_stop.load()) {
          for (sw::audio_io::MidiMessage m; midi->poll(m);)
            chart.apply(m.status, m.data1, m.data2, controls, voices.voices.size());
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      });
    }
    struct JoinMidi {
      std::atomic<bool>& stop;
      std::thread& t;
      ~JoinMidi() {
        stop = true;
        if (t.joinable())
          t.join();
      }
    } join_midi{midi_stop, midi_thread};
    std::unique_ptr<sw::wyoming::Server> wyoming;
    std::unique_ptr<sw::daemon::HttpServer> web;
    if (!no_wyoming)
      wyoming = std::make_unique<sw::wyoming::Server>(voices, engine, cfg, log, &metrics, speakers);
    if (local)
      http.extra_gauges = [&local] {
        const auto& c = local->counters();
        return std::vector<std::pair<std::string, double>>{
            {"sidewinder_play_spoken_total", double(local->spoken())},
            {"sidewinder_play_dropped_total", double(local->dropped())},
            {"sidewinder_play_frames_total", double(c.frames.load())},
            {"sidewinder_play_underruns_total", double(c.underruns.load())}};
      };
    if (!no_http)
      web = std::make_unique<sw::daemon::HttpServer>(voices, engine, http, log, &metrics, speakers);
    if (web && http.token.empty() && http.host != "127.0.0.1" && http.host != "::1")
      log("warn", "event=no-token host=" + http.host + " note=\"HTTP reachable from the network without a token\"");
    std::thread signals([&] {
      int sig = 0;
      sigwait(&set, &sig);
      log("info", std::string("event=signal signal=") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      if (wyoming)
        wyoming->stop();
      if (web)
        web->stop();  // waits for the responses being streamed
    });
    std::thread web_thread;
    if (web)
      web_thread = std::thread([&] { web->run(); });
    if (wyoming)
      wyoming->run();
    if (web_thread.joinable())
      web_thread.join();
    if (signals.joinable())
      signals.join();
  } catch (const std::exception& e) {
    log("error", std::string("event=fatal error=\"") + e.what() + "\"");
    return 1;
  }
  return 0;
}
