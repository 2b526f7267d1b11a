// torch::nn::Dropout's numbers under the reference's name; while a training
// run's random stream is in scope (kernels/dropout.h), CPU float32 masks
// come from that stream instead of libtorch's global generator.
#pragma once

#include <torch/torch.h>

namespace ltgbert::model {

class DropoutImpl : public torch::nn::Module {
 public:
  explicit DropoutImpl(double p) : p_(p) {}
  // x with each element zeroed with probability p and the rest scaled by
  // 1 / (1 - p), in training; x itself otherwise.
  torch::Tensor forward(const torch::Tensor& x);
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(Dropout);

}  // namespace ltgbert::model
