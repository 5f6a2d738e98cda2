// SPDX-License-Identifier: GPL-3.0-or-later
// Runtime ISA dispatch: the AVX2+FMA table only where the CPU has both.
#include <cstdlib>
#include <cstring>

#include "sidewinder/ssm/kernels.h"

namespace sw::ssm {

#if defined(SIDEWINDER_HAVE_AVX2_KERNELS)
namespace detail {
const KernelTable& avx2_kernel_table() noexcept;
}
#endif

const KernelTable* avx2_kernels() noexcept {
#if defined(SIDEWINDER_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return supported ? &detail::avx2_kernel_table() : nullptr;
#else
  return nullptr;
#endif
}

const KernelTable& best_kernels() noexcept {
  static const KernelTable* chosen = [] {
    const char* want = std::getenv("SIDEWINDER_ISA");
    if (want && std::strcmp(want, "reference") == 0)
      return &reference_kernels();
    if (want && std::strcmp(want, "baseline") == 0)
      return &baseline_kernels();
    if (const KernelTable* t = avx2_kernels())
      return t;
    return &baseline_kernels();
  }();
  return *chosen;
}

}  // namespace sw::ssm
