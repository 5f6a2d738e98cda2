// SPDX-License-Identifier: GPL-3.0-or-later
// The daemon's engine: every active speech stream advances together, block
// by block, on the engine threads, and hands its audio to its writer (a
// Wyoming connection, an HTTP response, the local audio device) through its
// own lock-free ring. The network side never waits on the engine and the
// engine never waits on a client:
//
//   writer thread                      engine thread (one of `threads`)
//   ------------------------------     ------------------------------------
//   submit(lease, speech, on_ready) -> inbox (a short lock) -> active list
//                                      round: for every active stream with
//                                        room for a block in its ring:
//                                        pull one block, write it to the ring,
//                                        on_ready() (coalesced: once until
//                                        the writer reads again)
//   on_ready: post / notify  <-------  a full ring: the stream is skipped
//   stream->read(...) (lock-free)      (only it: a slow client stalls only
//   stream->cancel() (client gone)       its own stream); it resumes when
//                                        the writer reads (wake)
//
// A round makes a batch of every stream with room in its ring and advances
// the batch one block (advance()): the seam where a batched backend (issue
// 7: all streams of a voice as one GPU step) plugs in; on the CPU one stream
// at a time per core is the right shape (the block is ~0.5 ms of work for
// 64 ms of audio), so advance() is a loop.
//
// The engine threads are not audio threads: a stream's pull phonemises its
// next piece of text (allocates, takes espeak-ng's lock) at piece
// boundaries. What is real-time is the writer side: read() and the flags.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sidewinder/daemon/speaker_pool.h"
#include "sidewinder/daemon/voice_controls.h"
#include "sidewinder/dsp/spsc_ring.h"
#include "sidewinder/realtime.h"
#include "sidewinder/speech/speaker.h"

namespace sw::daemon {

struct EngineConfig {
  std::size_t threads = 1;                  // engine threads; streams are spread over them
  std::size_t block_samples = 1024;         // samples a stream advances per round (64 ms at 16 kHz)
  std::size_t ring_samples = 16384;         // per stream: what the engine may run ahead of its writer (>= 2 blocks)
  std::size_t max_streams = 64;             // concurrent streams; submit() refuses more
  const VoiceControls* controls = nullptr;  // live pitch and volume for every stream (MIDI); outlives the engine
};

class EngineBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SynthEngine;

// One text being spoken: made by the engine, read by one writer.
class SynthStream {
 public:
  using Clock = std::chrono::steady_clock;

  // Writer side (one thread at a time). Copies up to n samples out of the
  // ring; lock-free, allocation-free. Reading makes room: a stream paused on a
  // full ring is woken (a short lock on its engine thread's wait, only then).
  std::size_t read(float* out, std::size_t n) noexcept;
  // The engine has made every sample (or failed); what is in the ring is the rest.
  bool produced_all() const noexcept { return produced_all_.load(std::memory_order_acquire); }
  // produced_all() and nothing left to read.
  bool done() const noexcept { return produced_all() && ring_.size_approx() == 0; }
  std::size_t available() const noexcept { return ring_.size_approx(); }
  // The writer is gone: the engine drops the stream at its next round. Any thread.
  void cancel() noexcept;
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }

  int sample_rate() const noexcept { return rate_; }
  // Set when produced_all(): why synthesis stopped early ("" if it did not).
  const std::string& failure() const noexcept { return failure_; }
  Clock::time_point submitted() const noexcept { return submitted_; }
  // Engine seconds spent on this stream so far (read after produced_all()).
  double compute_seconds() const noexcept { return compute_s_.load(std::memory_order_acquire); }
  std::size_t samples_made() const noexcept { return made_.load(std::memory_order_acquire); }

 private:
  friend class SynthEngine;
  SynthStream(SpeakerPool::Lease speaker, speech::Speech speech, std::function<void()> on_ready,
              std::size_t ring_samples);

  SpeakerPool::Lease speaker_;
  speech::Speech speech_;  // engine thread only
  std::function<void()> on_ready_;
  dsp::SpscRing<float> ring_;
  int rate_ = 16000;
  Clock::time_point submitted_ = Clock::now();
  std::string failure_;  // written before produced_all_ is released
  std::atomic<bool> produced_all_{false}, cancelled_{false};
  std::atomic<bool> notified_{false};  // on_ready called, the writer has not read since
  std::atomic<bool> stalled_{false};   // skipped on a full ring: read() wakes the engine
  std::atomic<double> compute_s_{0.0};
  std::atomic<std::size_t> made_{0};
  SynthEngine* engine_ = nullptr;
  std::size_t worker_ = 0;
};

class SynthEngine {
 public:
  explicit SynthEngine(EngineConfig config = {});
  ~SynthEngine();  // stops the threads; streams still active are dropped (their writers see produced_all with a
                   // failure)
  SynthEngine(const SynthEngine&) = delete;
  SynthEngine& operator=(const SynthEngine&) = delete;

  // Hands a begun Speech (with the Speaker lease it speaks with) to the
  // engine. on_ready is called on an engine thread whenever new samples are
  // in the ring or the stream has ended; it must not block (post to an
  // executor, notify a condition). Throws EngineBusy when max_streams are
  // already active. Any thread; locks the chosen engine thread's inbox.
  std::shared_ptr<SynthStream> submit(SpeakerPool::Lease speaker, speech::Speech speech,
                                      std::function<void()> on_ready);

  std::size_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  std::uint64_t rounds() const noexcept { return rounds_.load(std::memory_order_relaxed); }
  const EngineConfig& config() const noexcept { return cfg_; }

 private:
  friend class SynthStream;
  struct Worker {
    std::mutex mu;  // inbox, wake flag
    std::condition_variable cv;
    std::vector<std::shared_ptr<SynthStream>> inbox;
    bool wake = false;
    std::atomic<std::size_t> load{0};
    std::thread thread;
  };
  void run(Worker& w);
  // One round's batch: each stream one block (see advance() in the .cpp).
  void advance(SynthStream* const* batch, std::size_t n, std::vector<float>& block);
  static void end(SynthStream& s, const char* why);
  void wake(std::size_t worker) noexcept;

  EngineConfig cfg_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> rounds_{0};
};

}  // namespace sw::daemon
