// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>

#include "sidewinder/dsp/spsc_ring.h"
#include "sidewinder/realtime.h"

namespace sw::dsp {

// Hands a fully prepared object (typically a model) from a loader thread to
// the audio thread, and hands replaced objects back so that they are freed off
// the audio thread.
//
//   loader thread:  slot.publish(std::move(prepared));   // any time
//   audio thread:   T* m = slot.acquire();  // once per block; m may be null
//   any non-RT:     slot.collect_garbage(); // e.g. on a timer or after publish
//
// The audio side never allocates, frees, locks or waits. A newly published
// object waits in a single "pending" atomic pointer until the audio thread's
// next acquire() swaps it in; the previous current object goes onto a
// fixed-capacity SPSC retire queue that collect_garbage() drains. If the
// retire queue is full, acquire() keeps the old object for now and retries on
// a later call, so nothing is ever deleted on the audio thread.
//
// The pointer returned by acquire()/current() stays valid until the audio
// thread's next acquire() call (the object may be retired by that call).
template <typename T>
class ObjectSlot {
 public:
  // `retire_capacity`: how many replaced objects may wait for
  // collect_garbage() before acquire() stops swapping (rounded up to a power
  // of two). Allocates; not real-time safe.
  SW_NONREALTIME explicit ObjectSlot(std::size_t retire_capacity = 8) : retired_(retire_capacity) {}

  ObjectSlot(const ObjectSlot&) = delete;
  ObjectSlot& operator=(const ObjectSlot&) = delete;
  ObjectSlot(ObjectSlot&&) = delete;
  ObjectSlot& operator=(ObjectSlot&&) = delete;

  // Frees the current, the pending and all retired objects. Call only when no
  // thread uses the slot any more (in particular, the audio thread stopped).
  SW_NONREALTIME ~ObjectSlot() {
    delete pending_.exchange(nullptr, std::memory_order_acquire);
    delete current_;
    current_ = nullptr;
    collect_garbage();
  }

  // Loader side: makes `object` the one the audio thread picks up on its next
  // acquire(). Never fails and never leaks: if a previously published object
  // has not been picked up yet, it is superseded and deleted right here (on
  // the calling, non-real-time thread). Returns true if that happened, false
  // if nothing was pending. Publishing nullptr does nothing (returns false):
  // the pending pointer is only ever cleared by acquire(). May free memory
  // (runs T's destructor); not real-time safe. Safe to call from several
  // non-real-time threads.
  SW_NONREALTIME bool publish(std::unique_ptr<T> object) {
    if (!object)
      return false;
    T* old = pending_.exchange(object.release(), std::memory_order_acq_rel);
    delete old;
    return old != nullptr;
  }

  // Non-real-time side: deletes every object the audio thread has retired
  // and returns how many were deleted. Runs T's destructors, takes a mutex
  // (so any non-real-time thread may call it); never call from the audio
  // thread.
  SW_NONREALTIME std::size_t collect_garbage() {
    std::lock_guard<std::mutex> lock(collect_mutex_);
    std::size_t count = 0;
    T* old = nullptr;
    while (retired_.pop(old)) {
      delete old;
      ++count;
    }
    return count;
  }

  // Audio side: if a newly published object is pending, swaps it in (moving
  // the previous one to the retire queue; if that queue is full the swap is
  // postponed to a later call). Returns the current object, or nullptr if
  // nothing was ever published. Audio thread only (single caller). Real-time
  // safe: no allocation, no lock, no free; wait-free.
  SW_REALTIME T* acquire() noexcept {
    if (pending_.load(std::memory_order_relaxed) == nullptr)
      return current_;
    // Only this thread ever takes the pending pointer out, and publishers
    // only replace it with another non-null pointer, so once we have seen it
    // non-null the exchange below returns non-null.
    if (current_ != nullptr && !retired_.push(current_))
      return current_;
    current_ = pending_.exchange(nullptr, std::memory_order_acquire);
    return current_;
  }

  // Audio side, for callers that manage "current" themselves (e.g. to
  // crossfade from the old object to the new one): takes the pending object,
  // if any, out of the slot; the caller owns it until it hands it to
  // retire(). Do not mix with acquire(). Real-time safe; wait-free.
  SW_REALTIME T* take_pending() noexcept {
    if (pending_.load(std::memory_order_relaxed) == nullptr)
      return nullptr;
    return pending_.exchange(nullptr, std::memory_order_acquire);
  }

  // Audio side: hands an object taken with take_pending() back to be deleted
  // by collect_garbage(). Returns false (and keeps nothing) if the retire
  // queue is full: keep the object and try again later. Real-time safe.
  SW_REALTIME bool retire(T* object) noexcept { return object == nullptr || retired_.push(object); }

  // Audio side: the object returned by the last acquire() (nullptr if none).
  // Audio thread only (or any thread once the audio thread has stopped).
  // Real-time safe.
  SW_REALTIME T* current() const noexcept { return current_; }

  // True if a published object waits for acquire(). Any thread; real-time
  // safe; a snapshot.
  SW_REALTIME bool has_pending() const noexcept { return pending_.load(std::memory_order_relaxed) != nullptr; }

 private:
  std::atomic<T*> pending_{nullptr};
  T* current_ = nullptr;  // owned by the audio thread
  SpscRing<T*> retired_;  // producer: audio thread; consumer: collect_garbage
  std::mutex collect_mutex_;
};

}  // namespace sw::dsp
