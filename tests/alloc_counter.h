// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>

// Counts heap allocations made by the calling thread while armed: every
// operator new/new[] (all overloads) and, outside sanitizer builds, malloc,
// calloc, realloc, aligned_alloc and posix_memalign. Idea after
// NeuralAmpModelerCore's tools/test/allocation_tracking.
namespace sw::test {

class AllocationScope {
 public:
  AllocationScope() noexcept;
  ~AllocationScope();
  // Allocations by this thread since construction.
  std::size_t count() const noexcept;
  AllocationScope(const AllocationScope&) = delete;
  AllocationScope& operator=(const AllocationScope&) = delete;

 private:
  std::size_t start_;
  bool was_armed_;
};

// Whether malloc-family calls are counted too (false under sanitizers, whose
// own allocator must stay in charge).
bool counts_malloc() noexcept;

}  // namespace sw::test
