// The position-wise GeGLU feed-forward block.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/dropout.h"

namespace ltgbert::model {

// x * gelu_tanh(gate), where x is the first half of the last dimension.
class GeGLUImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(GeGLU);

class FeedForwardImpl : public torch::nn::Module {
 public:
  explicit FeedForwardImpl(const Config& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, D) -> (B, T, D)

  // LayerNorm, Linear [1], GeGLU, LayerNorm, Linear [4], Dropout: the
  // reference's indices, which the checkpoint keys carry.
  torch::nn::Sequential mlp{nullptr};

 private:
  int64_t intermediate_size_;
  std::shared_ptr<torch::nn::LayerNormImpl> input_norm_, gated_norm_;  // mlp[0], mlp[3]
  std::shared_ptr<torch::nn::LinearImpl> up_, down_;                   // mlp[1], mlp[4]
};
TORCH_MODULE(FeedForward);

}  // namespace ltgbert::model
