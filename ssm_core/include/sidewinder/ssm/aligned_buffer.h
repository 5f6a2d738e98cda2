// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace sw::ssm {

// One zero-initialised, 64-byte-aligned block of floats: the arena behind a
// model's packed weights or a stream's state and scratch. Allocates only in
// its constructor; move-only.
class AlignedBuffer {
 public:
  AlignedBuffer() noexcept = default;
  explicit AlignedBuffer(std::size_t floats) {
    if (floats == 0)
      return;
    const std::size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data_)
      throw std::bad_alloc();
    std::memset(data_, 0, bytes);
    size_ = floats;
  }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  float* data() noexcept { return data_; }
  const float* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

// Round a float count up so every view into an arena starts on 64 bytes.
constexpr std::size_t arena_round(std::size_t floats) noexcept {
  return (floats + 15) / 16 * 16;
}

}  // namespace sw::ssm
