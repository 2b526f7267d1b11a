#include "model/dropout.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace ltgbert::model {
namespace {

thread_local RandomStream* current_stream = nullptr;

// SplitMix64's finaliser: a bijective mix of a 64-bit counter.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A float mask of x's shape: 0 with probability p, else 1 / (1 - p).
// Element i draws 32 bits of Mix(key + (offset + i) / 2).
torch::Tensor Mask(const torch::Tensor& x, double p, RandomStream& stream) {
  auto mask = torch::empty(x.sizes(), x.options().dtype(torch::kFloat32).requires_grad(false));
  const int64_t n = mask.numel();
  const uint64_t key = Mix(stream.seed ^ 0x9e3779b97f4a7c15ull);
  const uint64_t start = stream.offset;
  stream.offset += static_cast<uint64_t>(n + (n & 1));  // whole 64-bit draws
  // Keep when the 32-bit draw is at or above p * 2^32.
  const uint64_t threshold = static_cast<uint64_t>(std::ldexp(p, 32));
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  float* out = mask.data_ptr<float>();
  at::parallel_for(0, (n + 1) / 2, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const uint64_t bits = Mix(key + (start >> 1) + static_cast<uint64_t>(pair));
      const int64_t i = 2 * pair;
      out[i] = (bits & 0xffffffffull) >= threshold ? scale : 0.f;
      if (i + 1 < n) out[i + 1] = (bits >> 32) >= threshold ? scale : 0.f;
    }
  });
  return mask;
}

}  // namespace

ScopedRandomStream::ScopedRandomStream(RandomStream* stream) : previous_(current_stream) { current_stream = stream; }

ScopedRandomStream::~ScopedRandomStream() { current_stream = previous_; }

torch::Tensor ApplyDropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  if (current_stream == nullptr || !x.is_cpu() || x.scalar_type() != torch::kFloat32) {
    return torch::dropout(x, p, /*train=*/true);
  }
  if (p >= 1) return x * 0;
  return x * Mask(x, p, *current_stream);
}

}  // namespace ltgbert::model
