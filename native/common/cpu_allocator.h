// A caching allocator for libtorch's CPU tensors. A forward pass allocates
// the same large activations again and again; from the C library each one is
// fresh memory whose pages fault in on first touch, which costs as much as
// a small model's arithmetic. Freed large blocks are kept and handed out
// again instead. Only libtorch's allocations go through it; Node's do not.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ltgbert {

// Makes the caching allocator libtorch's CPU allocator. `max_cached_bytes`
// bounds what freed blocks it keeps (0 leaves libtorch's own allocator);
// with `grow_to_peak` the bound rises to the most bytes of large blocks the
// process has had in use at once.
void InstallCachingCpuAllocator(size_t max_cached_bytes, bool grow_to_peak);

// Bytes held in freed blocks now.
size_t CachedCpuBytes();

// What the cache has done since the process started, for large blocks
// (256 KiB and up): blocks taken from the system (whose pages fault in
// fresh on first touch) and blocks handed out again from the cache.
struct CpuCacheStats {
  size_t cached_bytes = 0;
  size_t live_bytes = 0;
  size_t peak_live_bytes = 0;
  uint64_t fresh_blocks = 0;
  uint64_t fresh_bytes = 0;
  uint64_t reused_blocks = 0;
  uint64_t reused_bytes = 0;
};
CpuCacheStats GetCpuCacheStats();

// Returns every cached block to the system.
void ReleaseCachedCpuMemory();

}  // namespace ltgbert
