// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "sidewinder/dsp/spsc_ring.h"

using sw::dsp::SpscRing;

TEST_CASE("SpscRing rounds capacity up to a power of two", "[dsp][spsc_ring]") {
  CHECK(SpscRing<int>(0).capacity() == 1);
  CHECK(SpscRing<int>(1).capacity() == 1);
  CHECK(SpscRing<int>(3).capacity() == 4);
  CHECK(SpscRing<int>(8).capacity() == 8);
  CHECK(SpscRing<int>(1000).capacity() == 1024);
}

TEST_CASE("SpscRing push/pop keep FIFO order and report full/empty", "[dsp][spsc_ring]") {
  SpscRing<int> ring(4);
  int v = -1;
  CHECK_FALSE(ring.pop(v));
  CHECK(v == -1);
  CHECK(ring.size_approx() == 0);

  for (int i = 0; i < 4; ++i)
    REQUIRE(ring.push(i));
  CHECK_FALSE(ring.push(99));  // full
  CHECK(ring.size_approx() == 4);

  for (int i = 0; i < 4; ++i) {
    REQUIRE(ring.pop(v));
    CHECK(v == i);
  }
  CHECK_FALSE(ring.pop(v));  // empty again
  CHECK(ring.size_approx() == 0);
}

TEST_CASE("SpscRing wraps around many times", "[dsp][spsc_ring]") {
  SpscRing<int> ring(4);
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 100; ++round) {
    // Leave a varying number of elements in the ring so the indices cross
    // the end of the buffer at every possible offset.
    const int n = 1 + round % 4;
    for (int i = 0; i < n; ++i) {
      if (ring.push(next_in))
        ++next_in;
    }
    const int m = 1 + (round * 7) % 4;
    for (int i = 0; i < m; ++i) {
      int v = 0;
      if (!ring.pop(v))
        break;
      REQUIRE(v == next_out);
      ++next_out;
    }
  }
  int v = 0;
  while (ring.pop(v))
    REQUIRE(v == next_out++);
  CHECK(next_out == next_in);
  CHECK(next_in > 100);
}

TEST_CASE("SpscRing bulk write/read wrap and truncate to what fits", "[dsp][spsc_ring]") {
  SpscRing<float> ring(8);
  std::vector<float> src(20);
  for (std::size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<float>(i);
  std::vector<float> dst(20, -1.0f);

  CHECK(ring.write(src.data(), 5) == 5);
  CHECK(ring.read(dst.data(), 3) == 3);  // tail at 3, head at 5
  CHECK(dst[0] == 0.0f);
  CHECK(dst[2] == 2.0f);
  // 6 free slots; a write of 10 stores 6 and wraps around the end.
  CHECK(ring.write(src.data() + 5, 10) == 6);
  CHECK(ring.size_approx() == 8);
  CHECK(ring.write(src.data(), 1) == 0);
  CHECK(ring.write(nullptr, 0) == 0);
  // Reading more than available returns what is there, in order.
  CHECK(ring.read(dst.data(), 20) == 8);
  for (int i = 0; i < 8; ++i)
    CHECK(dst[static_cast<std::size_t>(i)] == static_cast<float>(3 + i));
  CHECK(ring.read(dst.data(), 1) == 0);
  CHECK(ring.read(nullptr, 0) == 0);
}

TEST_CASE("SpscRing two-thread stress: 1e6 sequential ints in random chunks", "[dsp][spsc_ring]") {
  constexpr std::uint32_t kCount = 1000000;
  SpscRing<std::uint32_t> ring(1024);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::atomic<bool> timed_out{false};

  std::thread producer([&] {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<std::uint32_t> chunk(1, 300);
    std::vector<std::uint32_t> buf(300);
    std::uint32_t next = 0;
    while (next < kCount) {
      const std::uint32_t n = std::min(chunk(rng), kCount - next);
      for (std::uint32_t i = 0; i < n; ++i)
        buf[i] = next + i;
      std::size_t done = 0;
      while (done < n) {
        if (n - done == 1 && (next & 1u)) {
          done += ring.push(buf[done]) ? 1 : 0;  // exercise push() as well
        } else {
          done += ring.write(buf.data() + done, n - done);
        }
        if (done < n) {
          if (timed_out.load(std::memory_order_relaxed))
            return;
          std::this_thread::yield();
        }
      }
      next += n;
    }
  });

  std::mt19937 rng(99);
  std::uniform_int_distribution<std::size_t> chunk(1, 400);
  std::vector<std::uint32_t> buf(400);
  std::uint32_t expected = 0;
  bool in_order = true;
  while (expected < kCount && in_order) {
    const std::size_t want = chunk(rng);
    std::size_t got = 0;
    if (want == 1) {
      got = ring.pop(buf[0]) ? 1 : 0;
    } else {
      got = ring.read(buf.data(), want);
    }
    for (std::size_t i = 0; i < got; ++i) {
      if (buf[i] != expected) {
        in_order = false;
        break;
      }
      ++expected;
    }
    if (got == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        break;
      }
      std::this_thread::yield();
    }
  }
  timed_out = true;  // release the producer in any case
  producer.join();

  CHECK(in_order);
  CHECK(expected == kCount);
  CHECK(ring.size_approx() == 0);
}
