// SPDX-License-Identifier: GPL-3.0-or-later
#include "alloc_counter.h"

#include <cstdlib>
#include <new>

namespace {
thread_local bool t_armed = false;
thread_local std::size_t t_count = 0;
inline void note() noexcept {
  if (t_armed)
    ++t_count;
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
  note();
  return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
  note();
  return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t al, std::size_t n) {
  note();
  return __libc_memalign(al, n);
}
int posix_memalign(void** out, std::size_t al, std::size_t n) {
  note();
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
void* counted_new(std::size_t n) {
  note();
  void* p = SW_RAW_ALLOC(n ? n : 1);
  if (!p)
    throw std::bad_alloc();
  return p;
}
void* counted_new_aligned(std::size_t n, std::size_t al) {
  note();
  void* p = SW_RAW_ALIGNED(al, n ? n : al);
  if (!p)
    throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_new(n);
}
void* operator new[](std::size_t n) {
  return counted_new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  note();
  return SW_RAW_ALLOC(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  note();
  return SW_RAW_ALLOC(n ? n : 1);
}
void* operator new(std::size_t n, std::align_val_t al) {
  return counted_new_aligned(n, std::size_t(al));
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return counted_new_aligned(n, std::size_t(al));
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

AllocationScope::AllocationScope() noexcept : start_(t_count), was_armed_(t_armed) {
  t_armed = true;
}
AllocationScope::~AllocationScope() {
  t_armed = was_armed_;
}
std::size_t AllocationScope::count() const noexcept {
  return t_count - start_;
}

bool counts_malloc() noexcept {
#if defined(SW_COUNT_MALLOC)
  return true;
#else
  return false;
#endif
}

}  // namespace sw::test
