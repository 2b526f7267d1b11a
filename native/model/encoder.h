// The stack of pre-norm transformer layers.
#pragma once

#include <torch/torch.h>

#include "model/attention.h"
#include "model/config.h"
#include "model/feed_forward.h"

namespace ltgbert::model {

class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const Config& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding_mask, const torch::Tensor& relative);

  Attention attention{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(EncoderLayer);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const Config& config);
  // Returns the last layer's hidden states (B, T, D).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& padding_mask, const torch::Tensor& relative);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Encoder);

}  // namespace ltgbert::model
