// The stack of pre-norm transformer layers.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/attention.h"
#include "model/config.h"
#include "model/feed_forward.h"

namespace ltgbert::model {

// What a forward records besides its result, for Hugging Face's
// output_hidden_states / output_attentions. Callers pass none when they want
// nothing, and then nothing is kept.
struct Trace {
  bool want_layers = false;      // record layer_outputs
  bool want_attentions = false;  // record attentions
  // The embedding's output, then each layer's, (B, T, D) each.
  std::vector<torch::Tensor> layer_outputs;
  // Each layer's attention probabilities after the masked softmax, before
  // dropout, (B, H, T, T) each.
  std::vector<torch::Tensor> attentions;
};

class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const Config& config);
  // (B, T, D) -> (B, T, D); with `rows` (int64 indices into the B*T
  // positions), only those positions' outputs, (N, D).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                        const torch::Tensor& rows = {}, torch::Tensor* probabilities = nullptr);

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
  // token, a masked LM's loss the masked ones). `trace` (optional) records
  // what it asks for; `rows` must then be undefined if it asks for layers.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                        const torch::Tensor& rows = {}, Trace* trace = nullptr);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Encoder);

}  // namespace ltgbert::model
