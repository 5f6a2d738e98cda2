// SPDX-License-Identifier: GPL-3.0-or-later
#include "alloc_counter.h"

#include <link.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace {
thread_local bool t_armed = false;
thread_local std::size_t t_count = 0;
// SW_ALLOC_TRAP=1 in the environment: stop at the first counted allocation
// (SIGTRAP), so a debugger shows where it came from.
bool trap_enabled() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("SW_ALLOC_TRAP");
    return v != nullptr && v[0] == '1';
  }();
  return on;
}
// Allocations whose caller lies outside the main program (in a loaded
// plugin or the libraries it brings): counted apart, for hosts whose own
// hosting code allocates (tests/plugin_host).
thread_local std::size_t t_count_outside = 0;
std::uintptr_t g_main_begin = 0, g_main_end = 0;
int find_main_program(dl_phdr_info* info, std::size_t, void*) {
  if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') {  // the first entry: the executable
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      if (ph.p_type != PT_LOAD)
        continue;
      const std::uintptr_t b = info->dlpi_addr + ph.p_vaddr, e = b + ph.p_memsz;
      if (g_main_begin == 0 || b < g_main_begin)
        g_main_begin = b;
      if (e > g_main_end)
        g_main_end = e;
    }
    return 1;
  }
  return 0;
}
const bool g_found_main = [] {
  dl_iterate_phdr(find_main_program, nullptr);
  return true;
}();
inline void note(const void* caller = nullptr) noexcept {
  if (t_armed) {
    ++t_count;
    const auto a = reinterpret_cast<std::uintptr_t>(caller);
    if (caller != nullptr && (a < g_main_begin || a >= g_main_end))
      ++t_count_outside;
    if (trap_enabled())
      __builtin_trap();
  }
}
}  // namespace

#if defined(__GLIBC__) && !defined(SIDEWINDER_SANITIZED) && !defined(__SANITIZE_ADDRESS__)
#define SW_COUNT_MALLOC 1
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
  note(__builtin_return_address(0));
  return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
  note(__builtin_return_address(0));
  return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
  note(__builtin_return_address(0));
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t al, std::size_t n) {
  note(__builtin_return_address(0));
  return __libc_memalign(al, n);
}
int posix_memalign(void** out, std::size_t al, std::size_t n) {
  note(__builtin_return_address(0));
  void* p = __libc_memalign(al, n);
  if (!p)
    return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) {
  __libc_free(p);
}
}
#define SW_RAW_ALLOC(n) __libc_malloc(n)
#define SW_RAW_ALIGNED(al, n) __libc_memalign(al, n)
#define SW_RAW_FREE(p) __libc_free(p)
#else
#define SW_RAW_ALLOC(n) std::malloc(n)
#define SW_RAW_ALIGNED(al, n) std::aligned_alloc(al, ((n) + (al)-1) / (al) * (al))
#define SW_RAW_FREE(p) std::free(p)
#endif

namespace {
void* counted_new(std::size_t n, const void* caller) {
  note(caller);
  void* p = SW_RAW_ALLOC(n ? n : 1);
  if (!p)
    throw std::bad_alloc();
  return p;
}
void* counted_new_aligned(std::size_t n, std::size_t al, const void* caller) {
  note(caller);
  void* p = SW_RAW_ALIGNED(al, n ? n : al);
  if (!p)
    throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_new(n, __builtin_return_address(0));
}
void* operator new[](std::size_t n) {
  return counted_new(n, __builtin_return_address(0));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  note(__builtin_return_address(0));
  return SW_RAW_ALLOC(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  note(__builtin_return_address(0));
  return SW_RAW_ALLOC(n ? n : 1);
}
void* operator new(std::size_t n, std::align_val_t al) {
  return counted_new_aligned(n, std::size_t(al), __builtin_return_address(0));
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return counted_new_aligned(n, std::size_t(al), __builtin_return_address(0));
}
void operator delete(void* p) noexcept {
  SW_RAW_FREE(p);
}
void operator delete[](void* p) noexcept {
  SW_RAW_FREE(p);
}
void operator delete(void* p, std::size_t) noexcept {
  SW_RAW_FREE(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  SW_RAW_FREE(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  SW_RAW_FREE(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  SW_RAW_FREE(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  SW_RAW_FREE(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  SW_RAW_FREE(p);
}

namespace sw::test {

AllocationScope::AllocationScope() noexcept : start_(t_count), start_outside_(t_count_outside), was_armed_(t_armed) {
  t_armed = true;
}
AllocationScope::~AllocationScope() {
  t_armed = was_armed_;
}
std::size_t AllocationScope::count() const noexcept {
  return t_count - start_;
}
std::size_t AllocationScope::count_outside_main_program() const noexcept {
  return t_count_outside - start_outside_;
}

bool counts_malloc() noexcept {
#if defined(SW_COUNT_MALLOC)
  return true;
#else
  return false;
#endif
}

}  // namespace sw::test
