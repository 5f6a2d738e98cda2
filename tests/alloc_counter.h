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
  // Those of them called from code outside the main executable (a plugin
  // and the libraries it loaded, or a system library); the rest came from
  // the executable itself (e.g. a host's own plugin-hosting code).
  std::size_t count_outside_main_program() const noexcept;
  AllocationScope(const AllocationScope&) = delete;
  AllocationScope& operator=(const AllocationScope&) = delete;

 private:
  std::size_t start_, start_outside_;
  bool was_armed_;
};

// Whether malloc-family calls are counted too (false under sanitizers, whose
// own allocator must stay in charge).
bool counts_malloc() noexcept;

}  // namespace sw::test
