// The position-wise GeGLU feed-forward block.
#pragma once

#include <torch/torch.h>

#include "model/config.h"

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
};
TORCH_MODULE(FeedForward);

}  // namespace ltgbert::model
