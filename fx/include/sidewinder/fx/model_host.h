// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sidewinder/fx/effect.h"
#include "sidewinder/fx/model_instance.h"
#include "sidewinder/ssm/model.h"

namespace sw::fx {

// Where a model comes from: a preset shipped inside the front end (its bytes
// given), or a user's file (read from `path`, or from `bytes` when they are
// given, e.g. the copy embedded in a saved plugin state).
struct ModelSource {
  enum class Kind { preset, file };
  Kind kind = Kind::preset;
  std::string name;                  // preset name, or the file's path for a file
  std::vector<unsigned char> bytes;  // the model file's bytes (read from `name` when empty)
};

// What the front end shows and saves about the model that plays.
struct ModelStatus {
  std::uint64_t generation = 0;  // bumps on every change
  bool loaded = false;
  ModelSource source;  // of the model that plays (bytes kept: a state embeds them)
  std::string name, description, licence;
  double model_rate = 0.0;
  int latency = 0;    // host frames, of the instance that plays
  std::string error;  // the last load's error ("" after a success)
};

// The non-real-time side of a model-playing front end: reads, validates and
// prepares models (off the audio thread) and hands them to an Effect. Loads
// run on the calling thread (load_now: state restore, where a host expects
// the model ready when the call returns) or on a worker thread (load_async:
// a user's choice in a GUI), which also frees retired instances. A load that
// fails leaves the playing model in place and reports its error in status().
// Every method takes a mutex and may allocate: never call from the audio
// thread.
class ModelHost {
 public:
  explicit ModelHost(Effect& effect);
  ~ModelHost();  // stop()
  // Stops and joins the worker; after it returns no listener or poll runs
  // again and load_async does nothing. Call first in an owner's destructor
  // when the callbacks touch the owner's members.
  void stop();
  ModelHost(const ModelHost&) = delete;
  ModelHost& operator=(const ModelHost&) = delete;

  // Audio thread stopped: (re)builds the playing model's instance for
  // `spec` and prepares the effect with it.
  void prepare(const HostSpec& spec);
  // Loads on this thread; returns false (and sets status().error) on failure.
  bool load_now(ModelSource source);
  // Queues a load for the worker; status() tells the outcome.
  void load_async(ModelSource source);
  // Blocks until every queued load is done (tests, state saving).
  void wait_idle();
  ModelStatus status() const;
  // The same without the model file's bytes (cheap: for a GUI timer).
  ModelStatus status_without_bytes() const;
  std::uint64_t generation() const;
  // Called (on the loading thread, outside the lock) after every status change.
  void set_listener(std::function<void(const ModelStatus&)> listener);
  // Called on the worker thread every kPollMilliseconds (outside the lock):
  // lets a front end turn requests made on the audio thread (stored in an
  // atomic) into loads (load_now is fine from inside the poll).
  static constexpr int kPollMilliseconds = 50;
  void set_poll(std::function<void()> poll);

 private:
  bool load(ModelSource source);
  void worker();
  void notify();

  Effect& effect_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable cv_;
  HostSpec spec_;
  bool prepared_ = false;
  std::shared_ptr<const ssm::Model> model_;
  ModelStatus status_;
  std::function<void(const ModelStatus&)> listener_;
  std::function<void()> poll_;
  std::deque<ModelSource> queue_;
  int busy_ = 0;
  bool stop_ = false;
  std::mutex load_mutex_;  // one load at a time (worker or caller)
  std::thread thread_;
};

}  // namespace sw::fx
