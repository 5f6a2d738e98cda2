// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "sidewinder/realtime.h"

namespace sw::dsp {

// Lock-free, wait-free ring buffer for exactly one producer thread and exactly
// one consumer thread, for trivially copyable element types.
//
// Indices grow monotonically (wrapping at SIZE_MAX, which is harmless because
// the capacity is a power of two) and are masked on access. The producer owns
// head_, the consumer owns tail_; each side keeps a cached copy of the other
// side's index so that the shared cache line is touched only when the cached
// value says the ring is full (producer) or empty (consumer).
//
// Thread contract: push()/write() from the producer thread only; pop()/read()
// from the consumer thread only; size_approx()/capacity() from anywhere.
template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable<T>::value, "SpscRing<T> requires a trivially copyable T");

 public:
  // Allocates storage for at least `min_capacity` elements (rounded up to a
  // power of two, at least 1). Allocates, may throw (std::length_error when
  // the capacity cannot be represented, std::bad_alloc); not real-time safe.
  SW_NONREALTIME explicit SpscRing(std::size_t min_capacity)
      : capacity_(round_up_pow2(min_capacity)), mask_(capacity_ - 1), buffer_(new T[capacity_]()) {}

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;
  SpscRing(SpscRing&&) = delete;
  SpscRing& operator=(SpscRing&&) = delete;
  ~SpscRing() = default;

  // Producer: appends one element. Returns false (and stores nothing) when the
  // ring is full. Real-time safe: no allocation, no lock, wait-free.
  SW_REALTIME bool push(const T& value) noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ >= capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head - cached_tail_ >= capacity_)
        return false;
    }
    buffer_[head & mask_] = value;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer: removes the oldest element into `out`. Returns false (leaving
  // `out` untouched) when the ring is empty. Real-time safe, wait-free.
  SW_REALTIME bool pop(T& out) noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (cached_head_ == tail) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (cached_head_ == tail)
        return false;
    }
    out = buffer_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Producer: copies up to `n` elements from `src` (as many as fit) and
  // returns how many were written. `src` may be null only when n == 0.
  // Real-time safe, wait-free (bounded copy, at most two memcpy-like runs).
  SW_REALTIME std::size_t write(const T* src, std::size_t n) noexcept {
    if (n == 0)
      return 0;
    const std::size_t head = head_.load(std::memory_order_relaxed);
    std::size_t free_slots = capacity_ - (head - cached_tail_);
    if (free_slots < n) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      free_slots = capacity_ - (head - cached_tail_);
    }
    n = std::min(n, free_slots);
    if (n == 0)
      return 0;
    const std::size_t start = head & mask_;
    const std::size_t first = std::min(n, capacity_ - start);
    std::copy_n(src, first, buffer_.get() + start);
    std::copy_n(src + first, n - first, buffer_.get());
    head_.store(head + n, std::memory_order_release);
    return n;
  }

  // Consumer: copies up to `n` of the oldest elements into `dst` and removes
  // them; returns how many were read. `dst` may be null only when n == 0.
  // Real-time safe, wait-free.
  SW_REALTIME std::size_t read(T* dst, std::size_t n) noexcept {
    if (n == 0)
      return 0;
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    std::size_t available = cached_head_ - tail;
    if (available < n) {
      cached_head_ = head_.load(std::memory_order_acquire);
      available = cached_head_ - tail;
    }
    n = std::min(n, available);
    if (n == 0)
      return 0;
    const std::size_t start = tail & mask_;
    const std::size_t first = std::min(n, capacity_ - start);
    std::copy_n(buffer_.get() + start, first, dst);
    std::copy_n(buffer_.get(), n - first, dst + first);
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  // Number of stored elements; exact when called from the producer or the
  // consumer while the other side is idle, otherwise a snapshot that may be
  // stale by the time it returns. Never exceeds capacity(). Any thread;
  // real-time safe, wait-free.
  SW_REALTIME std::size_t size_approx() const noexcept {
    // Load tail first: head only grows, so head >= the tail we saw.
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t head = head_.load(std::memory_order_acquire);
    return std::min(head - tail, capacity_);
  }

  // Maximum number of elements the ring holds (a power of two). Any thread;
  // real-time safe.
  SW_REALTIME std::size_t capacity() const noexcept { return capacity_; }

 private:
  static constexpr std::size_t kCacheLine = 64;

  static std::size_t round_up_pow2(std::size_t n) {
    if (n <= 1)
      return 1;
    if (n > (std::numeric_limits<std::size_t>::max() / 2 + 1) / sizeof(T)) {
      throw std::length_error("SpscRing: capacity too large");
    }
    std::size_t p = 1;
    while (p < n)
      p <<= 1;
    return p;
  }

  // Read-only after construction; shared by both sides.
  const std::size_t capacity_;
  const std::size_t mask_;
  const std::unique_ptr<T[]> buffer_;

  // Producer side: the write index and the producer's cached read index.
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
  alignas(kCacheLine) std::size_t cached_tail_ = 0;
  // Consumer side: the read index and the consumer's cached write index.
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  alignas(kCacheLine) std::size_t cached_head_ = 0;
};

}  // namespace sw::dsp
