// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sidewinder/dsp/model_slot.h"

using sw::dsp::ObjectSlot;

namespace {

// Records, for each object id, how often and on which thread it was destroyed.
struct DestructionLog {
  std::mutex mutex;
  std::vector<int> count;
  std::vector<std::thread::id> thread;
  explicit DestructionLog(std::size_t n) : count(n, 0), thread(n) {}
};

struct Tracked {
  Tracked(int id_, DestructionLog* log_) : id(id_), log(log_) {}
  ~Tracked() {
    std::lock_guard<std::mutex> lock(log->mutex);
    ++log->count[static_cast<std::size_t>(id)];
    log->thread[static_cast<std::size_t>(id)] = std::this_thread::get_id();
  }
  int id;
  DestructionLog* log;
};

}  // namespace

TEST_CASE("ObjectSlot publish/acquire/collect sequence", "[dsp][model_slot]") {
  DestructionLog log(8);
  {
    ObjectSlot<Tracked> slot(2);
    CHECK(slot.acquire() == nullptr);
    CHECK(slot.current() == nullptr);
    CHECK_FALSE(slot.has_pending());

    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(0, &log)));
    CHECK(slot.has_pending());
    CHECK(slot.current() == nullptr);  // not picked up until acquire()
    Tracked* a = slot.acquire();
    REQUIRE(a != nullptr);
    CHECK(a->id == 0);
    CHECK_FALSE(slot.has_pending());
    CHECK(slot.acquire() == a);  // stable without a new publish
    CHECK(slot.collect_garbage() == 0);

    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(1, &log)));
    CHECK(slot.acquire()->id == 1);
    CHECK(log.count[0] == 0);  // retired, not yet freed
    CHECK(slot.collect_garbage() == 1);
    CHECK(log.count[0] == 1);

    // A publish that supersedes a pending object frees it on the publisher.
    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(2, &log)));
    CHECK(slot.publish(std::make_unique<Tracked>(3, &log)));
    CHECK(log.count[2] == 1);
    CHECK(slot.acquire()->id == 3);
    CHECK_FALSE(slot.publish(nullptr));  // no-op

    // Retire queue has capacity 2 and holds object 1 now.
    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(4, &log)));
    CHECK(slot.acquire()->id == 4);  // retired: 1, 3 -> queue full
    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(5, &log)));
    CHECK(slot.acquire()->id == 4);  // no room to retire 4: swap postponed
    CHECK(slot.has_pending());
    CHECK(log.count[4] == 0);
    CHECK(slot.collect_garbage() == 2);  // frees 1 and 3
    CHECK(slot.acquire()->id == 5);
    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(6, &log)));
    CHECK(slot.acquire()->id == 6);  // retired: 4, 5

    CHECK_FALSE(slot.publish(std::make_unique<Tracked>(7, &log)));  // left pending
  }
  // Destructor freed current (6), pending (7) and the retired 4 and 5.
  for (std::size_t i = 0; i < log.count.size(); ++i) {
    INFO("object " << i);
    CHECK(log.count[i] == 1);
  }
}

TEST_CASE("ObjectSlot two threads: every object freed once, never on the audio thread", "[dsp][model_slot]") {
  constexpr int kObjects = 1000;
  DestructionLog log(kObjects);
  std::thread::id audio_id;
  std::atomic<bool> loader_done{false};
  std::atomic<long> acquires{0};
  bool ids_monotone = true;
  int last_seen = -1;

  {
    ObjectSlot<Tracked> slot(4);

    std::thread audio([&] {
      audio_id = std::this_thread::get_id();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!loader_done.load(std::memory_order_acquire) || slot.has_pending()) {
        Tracked* t = slot.acquire();
        acquires.fetch_add(1, std::memory_order_relaxed);
        if (t != nullptr) {
          if (t->id < last_seen)
            ids_monotone = false;
          last_seen = t->id;
        }
        if (std::chrono::steady_clock::now() > deadline)
          break;
        std::this_thread::yield();
      }
    });

    std::thread loader([&] {
      for (int i = 0; i < kObjects; ++i) {
        slot.publish(std::make_unique<Tracked>(i, &log));
        if (i % 3 == 0)
          slot.collect_garbage();
        if (i % 50 == 0)
          std::this_thread::yield();
      }
      // Make room until the audio thread has taken the last object.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (slot.has_pending() && std::chrono::steady_clock::now() < deadline) {
        slot.collect_garbage();
        std::this_thread::yield();
      }
      loader_done.store(true, std::memory_order_release);
    });

    loader.join();
    audio.join();
    slot.collect_garbage();
    CHECK(slot.current() != nullptr);
    CHECK(slot.current()->id == kObjects - 1);
  }

  CHECK(ids_monotone);
  CHECK(last_seen == kObjects - 1);
  CHECK(acquires.load() > 0);
  int destroyed_on_audio = 0;
  int wrong_count = 0;
  for (int i = 0; i < kObjects; ++i) {
    if (log.count[static_cast<std::size_t>(i)] != 1)
      ++wrong_count;
    if (log.thread[static_cast<std::size_t>(i)] == audio_id)
      ++destroyed_on_audio;
  }
  CHECK(wrong_count == 0);
  CHECK(destroyed_on_audio == 0);
}
