#include "common/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

namespace ltgbert {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kMinCachedBytes = size_t{1} << 18;  // smaller blocks come cheap from malloc
constexpr size_t kGranularity = size_t{1} << 16;     // sizes round up to 64 KiB
constexpr size_t kHugePage = size_t{1} << 21;        // blocks this large get transparent huge pages

// Fresh memory faults in page by page; with 2 MiB pages a 64 MiB block takes
// 32 faults instead of 16384, and the products that read it miss the TLB
// less. Linux honours the advice where transparent huge pages are "madvise".
void* AllocateBlock(size_t size) {
  void* ptr = nullptr;
  const bool huge = size >= kHugePage;
  if (posix_memalign(&ptr, huge ? kHugePage : kAlignment, size) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  if (huge) madvise(ptr, size, MADV_HUGEPAGE);
#endif
  return ptr;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(size_t max_cached, bool grow_to_peak) : max_cached_(max_cached), grow_to_peak_(grow_to_peak) {}

  // libtorch 2.3 made allocate() non-const and added copy_data().
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t nbytes) override { return Make(nbytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t nbytes) const override { return const_cast<CachingCpuAllocator*>(this)->Make(nbytes); }
#endif
  c10::DataPtr Make(size_t nbytes) {
    void* ptr = Allocate(nbytes);
    return {ptr, ptr, &Free, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  void* Allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    const size_t size = nbytes < kMinCachedBytes ? nbytes : (nbytes + kGranularity - 1) / kGranularity * kGranularity;
    if (size >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      // Reuse a block of this size, or one at most a quarter larger.
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= size + size / 4) {
        void* ptr = it->second.ptr;
        cached_ -= it->first;
        live_[ptr] = it->first;
        Grew(it->first);
        ++stats_.reused_blocks;
        stats_.reused_bytes += it->first;
        free_.erase(it);
        return ptr;
      }
    }
    void* ptr = AllocateBlock(size);
    if (ptr == nullptr) {
      ReleaseAll();  // give the cache back and try once more
      ptr = AllocateBlock(size);
      if (ptr == nullptr) throw std::bad_alloc();
    }
    if (size >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      live_[ptr] = size;
      Grew(size);
      ++stats_.fresh_blocks;
      stats_.fresh_bytes += size;
    }
    return ptr;
  }

  void Release(void* ptr) {
    if (ptr == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = live_.find(ptr);
      if (it != live_.end()) {
        const size_t size = it->second;
        live_.erase(it);
        live_bytes_ -= size;
        const size_t bound = grow_to_peak_ ? std::max(max_cached_, peak_live_bytes_) : max_cached_;
        if (size <= bound) {
          free_.emplace(size, FreeBlock{ptr, ++releases_});
          cached_ += size;
          // Over the bound: drop the blocks freed longest ago first (a
          // working set that repeats keeps its blocks; one-off sizes go).
          while (cached_ > bound && !free_.empty()) {
            auto oldest = free_.begin();
            for (auto e = free_.begin(); e != free_.end(); ++e) {
              if (e->second.released < oldest->second.released) oldest = e;
            }
            cached_ -= oldest->first;
            std::free(oldest->second.ptr);
            free_.erase(oldest);
          }
          return;
        }
      }
    }
    std::free(ptr);
  }

  void ReleaseAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, block] : free_) std::free(block.ptr);
    free_.clear();
    cached_ = 0;
  }

  size_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

  CpuCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    CpuCacheStats out = stats_;
    out.cached_bytes = cached_;
    out.live_bytes = live_bytes_;
    out.peak_live_bytes = peak_live_bytes_;
    return out;
  }

  static void Free(void* ptr);

 private:
  // Called with the lock held when a block goes into use.
  void Grew(size_t size) {
    live_bytes_ += size;
    peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes_);
  }

  const size_t max_cached_;
  // Whether the bound rises to the most bytes ever in use at once: a
  // training step frees and reallocates its whole working set each step,
  // and keeping that much cached never takes the process past a footprint
  // it has already had.
  const bool grow_to_peak_;
  size_t live_bytes_ = 0;
  size_t peak_live_bytes_ = 0;
  std::mutex mutex_;
  struct FreeBlock {
    void* ptr;
    uint64_t released;  // when it was freed, in releases_
  };
  std::multimap<size_t, FreeBlock> free_;  // size -> block
  uint64_t releases_ = 0;
  std::unordered_map<void*, size_t> live_;  // large blocks in use
  size_t cached_ = 0;
  CpuCacheStats stats_;  // the counters; the byte levels are filled in by stats()
};

CachingCpuAllocator* g_allocator = nullptr;

void CachingCpuAllocator::Free(void* ptr) { g_allocator->Release(ptr); }

}  // namespace

void InstallCachingCpuAllocator(size_t max_cached_bytes, bool grow_to_peak) {
  if (max_cached_bytes == 0 || g_allocator != nullptr) return;
  // Never destroyed: tensors may be freed during process exit.
  g_allocator = new CachingCpuAllocator(max_cached_bytes, grow_to_peak);
  c10::SetCPUAllocator(g_allocator, /*priority=*/10);
}

size_t CachedCpuBytes() { return g_allocator ? g_allocator->cached() : 0; }

CpuCacheStats GetCpuCacheStats() { return g_allocator ? g_allocator->stats() : CpuCacheStats{}; }

void ReleaseCachedCpuMemory() {
  if (g_allocator) g_allocator->ReleaseAll();
}

}  // namespace ltgbert
