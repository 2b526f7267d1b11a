#include "kernels/dropout.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace ltgbert::kernels {
namespace {

thread_local RandomStream* current_stream = nullptr;

// SplitMix64's finaliser: a bijective mix of a 64-bit counter.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One mask: element i is kept when its 32-bit draw, half of
// Mix(key + base + i / 2), is at or above `threshold`, and then scaled.
struct MaskDraw {
  uint64_t key;
  uint64_t base;  // the stream's offset / 2: masks start on whole 64-bit draws
  uint64_t threshold;
  float scale;
};

// out[i] = in[i] * scale where element i is kept, else 0, over the pairs
// [begin, end) (elements 2 * begin .. 2 * end, clipped to n). The mask is
// drawn and applied in one pass, forward and backward alike, so it is never
// stored. Cloned for AVX-512 and AVX2, where the 64-bit mixing vectorises.
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3"))) void MaskedScale(
    const float* __restrict in, float* __restrict out, int64_t n, int64_t begin, int64_t end, MaskDraw draw) {
  const int64_t full_end = std::min(end, n / 2);  // pairs with both elements
  for (int64_t pair = begin; pair < full_end; ++pair) {
    const uint64_t bits = Mix(draw.key + draw.base + static_cast<uint64_t>(pair));
    const float low = (bits & 0xffffffffull) >= draw.threshold ? draw.scale : 0.f;
    const float high = (bits >> 32) >= draw.threshold ? draw.scale : 0.f;
    out[2 * pair] = in[2 * pair] * low;
    out[2 * pair + 1] = in[2 * pair + 1] * high;
  }
  if (full_end < end && 2 * full_end < n) {  // an odd n's last element
    const uint64_t bits = Mix(draw.key + draw.base + static_cast<uint64_t>(full_end));
    out[2 * full_end] = in[2 * full_end] * ((bits & 0xffffffffull) >= draw.threshold ? draw.scale : 0.f);
  }
}

// in * mask into a new tensor, on all threads.
torch::Tensor ApplyMask(const torch::Tensor& in, const MaskDraw& draw) {
  auto x = in.contiguous();
  auto out = torch::empty(x.sizes(), x.options());
  const int64_t n = x.numel();
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, (n + 1) / 2, 1 << 14,
                   [&](int64_t begin, int64_t end) { MaskedScale(src, dst, n, begin, end, draw); });
  return out;
}

// x * mask with the mask drawn again in the backward rather than kept.
class DropoutFunction : public torch::autograd::Function<DropoutFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, int64_t key, int64_t base,
                               int64_t threshold, double scale) {
    ctx->saved_data["key"] = key;
    ctx->saved_data["base"] = base;
    ctx->saved_data["threshold"] = threshold;
    ctx->saved_data["scale"] = scale;
    return ApplyMask(x, Draw(key, base, threshold, scale));
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const MaskDraw draw = Draw(ctx->saved_data["key"].toInt(), ctx->saved_data["base"].toInt(),
                               ctx->saved_data["threshold"].toInt(), ctx->saved_data["scale"].toDouble());
    return {ApplyMask(grads[0], draw), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }

 private:
  // The draw's 64-bit words travel through autograd's int64 slots bit for bit.
  static MaskDraw Draw(int64_t key, int64_t base, int64_t threshold, double scale) {
    return {static_cast<uint64_t>(key), static_cast<uint64_t>(base), static_cast<uint64_t>(threshold),
            static_cast<float>(scale)};
  }
};

}  // namespace

ScopedRandomStream::ScopedRandomStream(RandomStream* stream) : previous_(current_stream) { current_stream = stream; }

ScopedRandomStream::~ScopedRandomStream() { current_stream = previous_; }

bool StreamDropoutApplies(const torch::Tensor& x) {
  return current_stream != nullptr && x.is_cpu() && x.scalar_type() == torch::kFloat32;
}

// x times a mask of x's shape: 0 with probability p, else 1 / (1 - p),
// taking x.numel() counters of the stream (rounded up to whole 64-bit
// draws).
torch::Tensor StreamDropout(const torch::Tensor& x, double p) {
  RandomStream& stream = *current_stream;
  const int64_t n = x.numel();
  MaskDraw draw;
  draw.key = Mix(stream.seed ^ 0x9e3779b97f4a7c15ull);
  draw.base = stream.offset >> 1;
  stream.offset += static_cast<uint64_t>(n + (n & 1));
  draw.threshold = static_cast<uint64_t>(std::ldexp(p, 32));
  draw.scale = static_cast<float>(1.0 / (1.0 - p));
  if (!x.requires_grad()) return ApplyMask(x, draw);
  return DropoutFunction::apply(x, static_cast<int64_t>(draw.key), static_cast<int64_t>(draw.base),
                                static_cast<int64_t>(draw.threshold), static_cast<double>(draw.scale));
}

}  // namespace ltgbert::kernels
