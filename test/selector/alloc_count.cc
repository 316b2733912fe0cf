// Replaces the global operator new to count heap allocations per thread, so tests can check that
// a hot path does not allocate. Kept in its own file: in the same file as the callers, GCC
// inlines the replacement and warns about malloc/delete pairs it cannot see match.
#include <cstdlib>
#include <new>

namespace tabby::testing_support {
namespace {
thread_local long allocations = 0;
}  // namespace

long ThreadAllocationCount() { return allocations; }

}  // namespace tabby::testing_support

void* operator new(std::size_t size) {
  ++tabby::testing_support::allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
