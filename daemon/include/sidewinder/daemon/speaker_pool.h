// SPDX-License-Identifier: GPL-3.0-or-later
// Speakers for the daemon's voices, lent out one utterance at a time: a
// Speaker (espeak-ng front end + the voice's stream state) speaks one text at
// a time, so every request in flight borrows its own and gives it back when
// its stream ends. The pool grows to the peak number of concurrent streams
// per voice and keeps them (their arenas are prepared once).
//
// Threads: acquire() from any thread; it locks a mutex and may allocate (a
// new Speaker). The lease returns the Speaker from whichever thread drops it
// (the engine thread, usually): a lock and a vector push. Not for an audio
// thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "sidewinder/speech/speaker.h"

namespace sw::daemon {

class SpeakerPool : public std::enable_shared_from_this<SpeakerPool> {
 public:
  // The lease: the Speaker goes back to the pool when the last copy is dropped
  // (or is freed, if the pool is gone).
  using Lease = std::shared_ptr<speech::Speaker>;

  static std::shared_ptr<SpeakerPool> create() { return std::shared_ptr<SpeakerPool>(new SpeakerPool()); }

  // A Speaker for `voice` (the pool keeps `voice` alive through the lease).
  // Throws what Speaker's constructor throws (PhonemizerError).
  Lease acquire(const std::shared_ptr<const speech::VoiceModel>& voice);

  std::size_t idle() const;                                // Speakers waiting in the pool (all voices)
  std::size_t created() const { return created_.load(); }  // Speakers made so far (the peak in use)

 private:
  SpeakerPool() = default;
  void give_back(std::unique_ptr<speech::Speaker> s);

  std::atomic<std::size_t> created_{0};
  mutable std::mutex mu_;
  std::map<const speech::VoiceModel*, std::vector<std::unique_ptr<speech::Speaker>>> free_;
};

}  // namespace sw::daemon
