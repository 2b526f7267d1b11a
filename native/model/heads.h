// Output heads: the masked-LM head (decoder tied to the word embedding) and
// the MLP head of hub checkpoints (sequence and token classification,
// question answering, multiple choice). The linear classification head is a
// plain torch::nn::Linear.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/dropout.h"

namespace ltgbert::model {

// Linear(hidden -> vocab) whose weight is the word embedding's and whose bias
// is its own. The weight is held, not registered, so it is one parameter
// (counted and optimised once) as in the reference.
class TiedDecoderImpl : public torch::nn::Module {
 public:
  TiedDecoderImpl(torch::Tensor tied_weight, int64_t vocab_size);
  torch::Tensor forward(const torch::Tensor& x);  // (M, D) -> (M, vocab)

  torch::Tensor bias;

 private:
  torch::Tensor weight_;
};
TORCH_MODULE(TiedDecoder);

class MaskClassifierImpl : public torch::nn::Module {
 public:
  MaskClassifierImpl(const Config& config, torch::Tensor word_embedding_weight);
  // (..., D) -> (..., vocab)
  torch::Tensor forward(const torch::Tensor& x);

  // LayerNorm, Linear [1], GELU (erf), LayerNorm, Dropout, TiedDecoder [5].
  torch::nn::Sequential nonlinearity{nullptr};
};
TORCH_MODULE(MaskClassifier);

class ClassificationHeadImpl : public torch::nn::Module {
 public:
  // config.head_outputs() outputs per position.
  explicit ClassificationHeadImpl(const Config& config);
  torch::Tensor forward(const torch::Tensor& x);  // (..., D) -> (..., outputs)

  // LayerNorm, Linear [1], GELU (erf), LayerNorm, Dropout, Linear [5].
  torch::nn::Sequential nonlinearity{nullptr};
};
TORCH_MODULE(ClassificationHead);

}  // namespace ltgbert::model
