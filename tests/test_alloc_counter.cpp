// SPDX-License-Identifier: GPL-3.0-or-later
// The allocation counter must count, or the zero-allocation tests prove
// nothing.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "alloc_counter.h"

TEST_CASE("allocation counter counts operator new", "[alloc]") {
  sw::test::AllocationScope scope;
  auto p = std::make_unique<int>(42);
  std::vector<float> v(100);
  REQUIRE(scope.count() >= 2);
}

TEST_CASE("allocation counter counts container growth", "[alloc]") {
  std::vector<int> v;
  sw::test::AllocationScope scope;
  for (int i = 0; i < 100; ++i)
    v.push_back(i);
  REQUIRE(scope.count() >= 1);
}

TEST_CASE("allocation counter counts malloc where it can", "[alloc]") {
  sw::test::AllocationScope scope;
  void* volatile p = std::malloc(64);
  std::free(p);
  if (sw::test::counts_malloc()) {
    REQUIRE(scope.count() == 1);
  } else {
    REQUIRE(scope.count() == 0);  // sanitizer build: operator new only
  }
}

TEST_CASE("allocation counter sees nothing when nothing allocates", "[alloc]") {
  float buf[64] = {};
  sw::test::AllocationScope scope;
  for (float& x : buf)
    x += 1.0f;
  REQUIRE(scope.count() == 0);
  REQUIRE(buf[3] == 1.0f);
}
