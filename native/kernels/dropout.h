// Dropout whose masks, on the CPU, come from a counter-based hash of a
// training run's own random stream rather than from libtorch's global
// Mersenne Twister: the same masks for the same stream whatever the thread
// count, a stream that is two integers to save and restore, and about a
// tenth of bernoulli_'s time. The mask is drawn again in the backward
// rather than kept. model::Dropout uses it where a stream is in scope.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace ltgbert::kernels {

// Where the next mask starts: each mask takes numel() counters.
struct RandomStream {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

// Makes `stream` the one this thread's dropout draws from, for the lifetime
// of the object.
class ScopedRandomStream {
 public:
  explicit ScopedRandomStream(RandomStream* stream);
  ~ScopedRandomStream();
  ScopedRandomStream(const ScopedRandomStream&) = delete;
  ScopedRandomStream& operator=(const ScopedRandomStream&) = delete;

 private:
  RandomStream* previous_;
};

// True when this thread has a stream in scope and x is CPU float32.
bool StreamDropoutApplies(const torch::Tensor& x);

// x with each element zeroed with probability p (0 < p < 1) and the rest
// scaled by 1 / (1 - p), the mask drawn from the stream in scope, which it
// advances. Requires StreamDropoutApplies(x).
torch::Tensor StreamDropout(const torch::Tensor& x, double p);

}  // namespace ltgbert::kernels
