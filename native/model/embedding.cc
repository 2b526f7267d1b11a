#include "model/embedding.h"

namespace ltgbert::model {

namespace nn = torch::nn;

EmbeddingImpl::EmbeddingImpl(const Config& c) {
  // Registered first, as the reference's own parameter comes before its
  // submodules in the state dict.
  relative_embedding =
      register_parameter("relative_embedding", torch::zeros({2 * c.position_bucket_size - 1, c.hidden_size}));
  word_embedding = register_module("word_embedding", nn::Embedding(c.vocab_size, c.hidden_size));
  word_layer_norm = register_module(
      "word_layer_norm",
      nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps).elementwise_affine(false)));
  relative_layer_norm = register_module("relative_layer_norm",
                                        nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
}

std::pair<torch::Tensor, torch::Tensor> EmbeddingImpl::forward(const torch::Tensor& input_ids) {
  auto words = dropout(word_layer_norm(word_embedding(input_ids)));  // (B, T, D)
  auto relative = relative_layer_norm(relative_embedding);           // (R, D)
  return {words, relative};
}

}  // namespace ltgbert::model
