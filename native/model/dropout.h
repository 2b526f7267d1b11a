// Dropout whose masks, on the CPU, come from a counter-based hash of a
// training run's own random stream rather than from libtorch's global
// Mersenne Twister: the same masks for the same stream whatever the thread
// count, a stream that is two integers to save and restore, and about a
// tenth of bernoulli_'s time. Without a stream in scope (or on another
// device) it is libtorch's dropout.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace ltgbert::model {

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

// x with each element zeroed with probability p and the rest scaled by
// 1 / (1 - p), in training; x itself otherwise.
torch::Tensor ApplyDropout(const torch::Tensor& x, double p, bool training);

class DropoutImpl : public torch::nn::Module {
 public:
  explicit DropoutImpl(double p) : p_(p) {}
  torch::Tensor forward(const torch::Tensor& x) { return ApplyDropout(x, p_, is_training()); }
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(Dropout);

}  // namespace ltgbert::model
