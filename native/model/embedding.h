// Word embeddings (no absolute positions) and the shared relative-position
// table that every attention layer projects.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "model/config.h"
#include "model/dropout.h"

namespace ltgbert::model {

class EmbeddingImpl : public torch::nn::Module {
 public:
  explicit EmbeddingImpl(const Config& config);

  // Returns the normalised word embeddings (B, T, D) and the normalised
  // relative-position table (2*bucket-1, D).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& input_ids);

  torch::Tensor relative_embedding;  // (2*bucket-1, D)
  torch::nn::Embedding word_embedding{nullptr};
  torch::nn::LayerNorm word_layer_norm{nullptr};  // no affine
  torch::nn::LayerNorm relative_layer_norm{nullptr};
  Dropout dropout{nullptr};
};
TORCH_MODULE(Embedding);

}  // namespace ltgbert::model
