// SPDX-License-Identifier: GPL-3.0-or-later
// sidewinderd's OpenAI-compatible HTTP API (cpp-httplib from Debian):
//   POST /v1/audio/speech  {model, input, voice, response_format, speed}
//                          -> audio, streamed (chunked transfer): the first
//                             bytes leave after the first block, not at the end
//   GET  /v1/models        the models (OpenAI's list shape)
//   GET  /v1/audio/voices  the voices, with their credits
//   GET  /health           {"status": "ok", ...} (no token needed)
//   GET  /metrics          Prometheus text
// (ref: platform.openai.com/docs/api-reference/audio/createSpeech; notes:
// shared/notes/speech-protocols.md section 4.) Errors are OpenAI's shape,
// {"error": {"message", "type", "param", "code"}}, with 400/401/404/413/503.
//
// Threads: cpp-httplib gives each connection a thread of its pool; a speech
// request's thread checks the request, hands the speech to the SynthEngine
// and then waits on its stream's ring (woken by the engine), encodes and
// writes. A client that stops reading blocks only its own thread until the
// write timeout, and then is dropped; its stream is cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sidewinder/daemon/metrics.h"
#include "sidewinder/daemon/synth_engine.h"
#include "sidewinder/daemon/wyoming_server.h"  // VoiceSet, LogSink

namespace sw::daemon {

struct HttpConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 10201;  // 0: any free port (tests)
  std::size_t threads = 64;    // connections served at once
  std::size_t max_input_chars = 4096;
  std::string token;              // non-empty: every route but /health needs "Authorization: Bearer <token>"
  double write_timeout_s = 10.0;  // a client that reads nothing this long is dropped
  double idle_timeout_s = 30.0;   // keep-alive: a quiet connection is closed
  double max_request_s = 600.0;   // one response's whole body
  std::string version;
  // More gauges for /metrics (name, value), read at each scrape (e.g. --play's counters).
  std::function<std::vector<std::pair<std::string, double>>()> extra_gauges;
};

class HttpServer {
 public:
  // Binds now: throws std::system_error naming the address if it cannot.
  // voices, engine and metrics must outlive the server.
  HttpServer(const wyoming::VoiceSet& voices, SynthEngine& engine, HttpConfig config, wyoming::LogSink log = {},
             Metrics* metrics = nullptr, std::shared_ptr<SpeakerPool> speakers = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  void run();   // serves until stop(); requests in flight are finished first
  void stop();  // any thread

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sw::daemon
