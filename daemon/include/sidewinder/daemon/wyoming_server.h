// SPDX-License-Identifier: GPL-3.0-or-later
// The Wyoming TCP server of sidewinderd: Asio, event-driven. The io thread
// only reads, decodes and writes; each connection's events are planned in
// order on a worker pool (its own strand) by its Session, and the speech is
// handed to the SynthEngine, which advances every stream block by block and
// hands the audio back through the stream's ring; the connection's strand
// cuts it into audio-chunks as it arrives. A client that reads too slowly
// fills only its own bounded output queue and is then dropped; a malformed
// stream gets an `error` event and is closed; neither stalls the others.
//
// Threads and blocking: run() blocks the calling thread until stop();
// stop() and port() may be called from any thread and do not block.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sidewinder/daemon/metrics.h"
#include "sidewinder/daemon/synth_engine.h"
#include "sidewinder/daemon/wyoming_session.h"

namespace sw::wyoming {

struct ServerConfig {
  std::string host = "127.0.0.1";  // other addresses only when asked for
  std::uint16_t port = 10200;      // 0: any free port (tests)
  std::size_t max_connections = 64;
  std::size_t max_queued_output_bytes = 8 * 1024 * 1024;  // per client
  std::size_t max_queued_events = 256;                    // per client, not yet handled
  std::size_t socket_send_buffer_bytes = 0;               // per client, in the kernel; 0: the OS default
  double idle_timeout_s = 300.0;                          // no bytes from the client for this long: closed
  double max_request_s = 600.0;                           // one request's whole answer: cut short after this
  std::size_t worker_threads = 2;                         // planning (text checks) and chunking
  Limits framing;
  SessionLimits session;
  std::string version;
};

// One line per thing that happens: level, message (structured key=value).
using LogSink = std::function<void(const char* level, const std::string& message)>;

class Server {
 public:
  // Binds now: throws std::system_error naming the address if it cannot.
  // The engine, pool and metrics must outlive the server.
  Server(const VoiceSet& voices, daemon::SynthEngine& engine, ServerConfig config, LogSink log = {},
         daemon::Metrics* metrics = nullptr, std::shared_ptr<daemon::SpeakerPool> speakers = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;  // the bound port
  void run();                  // serves until stop(); then drains: handles what was received, sends it, closes
  void stop();                 // from any thread (a signal handler's thread, a test)

  struct Stats {
    std::atomic<std::uint64_t> connections{0}, events{0}, errors{0}, dropped_slow{0}, refused_busy{0}, timeouts{0};
    std::atomic<std::int64_t> active{0};
  };
  const Stats& stats() const { return stats_; }

  struct Impl;  // in wyoming_server.cpp

 private:
  std::unique_ptr<Impl> impl_;
  Stats stats_;
};

}  // namespace sw::wyoming
