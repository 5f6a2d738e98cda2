// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sidewinder/realtime.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define SW_DENORMAL_GUARD_X86 1
#elif defined(__aarch64__)
#define SW_DENORMAL_GUARD_ARM64 1
#endif

namespace sw {

// Sets flush-to-zero and denormals-are-zero for the lifetime of the object
// and restores the caller's floating-point control state afterwards.
// Allocates nothing, never blocks. Thread-local by nature (it changes the
// calling thread's FP control register only).
class ScopedDenormalGuard {
 public:
  SW_REALTIME ScopedDenormalGuard() noexcept {
#if defined(SW_DENORMAL_GUARD_X86)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#elif defined(SW_DENORMAL_GUARD_ARM64)
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
    unsigned long long fz = saved_ | (1ull << 24);  // FZ
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fz));
#endif
  }
  SW_REALTIME ~ScopedDenormalGuard() noexcept {
#if defined(SW_DENORMAL_GUARD_X86)
    _mm_setcsr(saved_);
#elif defined(SW_DENORMAL_GUARD_ARM64)
    __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_));
#endif
  }
  ScopedDenormalGuard(const ScopedDenormalGuard&) = delete;
  ScopedDenormalGuard& operator=(const ScopedDenormalGuard&) = delete;

 private:
#if defined(SW_DENORMAL_GUARD_X86)
  unsigned int saved_ = 0;
#elif defined(SW_DENORMAL_GUARD_ARM64)
  unsigned long long saved_ = 0;
#endif
};

}  // namespace sw
