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
  // (B, T, D) -> (B, T, D); with `rows` (int64 indices into the B*T
  // positions), only those positions' outputs, (N, D).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                        const torch::Tensor& rows = {});

  Attention attention{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(EncoderLayer);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const Config& config);
  // Returns the last layer's hidden states (B, T, D). With `rows` (int64
  // indices into the B*T positions), the last layer computes only those
  // positions past its attention and returns them, (N, D): the others'
  // outputs would feed nothing (training a classifier reads the first
  // token, a masked LM's loss the masked ones).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                        const torch::Tensor& rows = {});

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Encoder);

}  // namespace ltgbert::model
