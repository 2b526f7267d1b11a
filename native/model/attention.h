// Self-attention with disentangled relative positions: content-to-content
// plus content-to-position (c2p) and position-to-content (p2c) scores over a
// log-bucketed relative-position index.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "kernels/attention.h"
#include "model/config.h"
#include "model/dropout.h"

namespace ltgbert::model {

// idx[q][k] in [0, 2*bucket-2]: the row of the relative table that the pair
// (query q, key k) uses. Near pairs get their own row; far ones share
// logarithmically wider buckets. (max_position, max_position) int64.
torch::Tensor MakePositionIndices(int64_t bucket_size, int64_t max_position);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const Config& config);

  // x: (B, T, D); padding_mask: (B, 1, 1, T), true at padding keys;
  // relative: (R, D) normalised relative table. Returns (B, T, D); with
  // `rows` (int64 indices into the B*T positions), only those positions'
  // outputs, (N, D): the products after the context skip the others.
  // With `probabilities`, the attention probabilities (B, H, T, T) after the
  // masked softmax and before dropout are stored there.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                        const torch::Tensor& rows = {}, torch::Tensor* probabilities = nullptr);

  torch::Tensor position_indices;  // buffer (max_pos, max_pos) int64
  torch::nn::Linear in_proj_qk{nullptr};
  torch::nn::Linear in_proj_v{nullptr};
  torch::nn::Linear out_proj{nullptr};
  torch::nn::LayerNorm pre_layer_norm{nullptr};  // no affine
  torch::nn::LayerNorm post_layer_norm{nullptr};
  Dropout dropout{nullptr};            // hidden_dropout_prob: position table and output
  Dropout attention_dropout{nullptr};  // attention_probs_dropout_prob: the probabilities

 private:
  // (query_pos, key_pos), each (H, R, d), as position_qk_split cuts them.
  std::pair<torch::Tensor, torch::Tensor> SplitPositions(const torch::Tensor& pos) const;
  // Attention probabilities (B, H, T, T) from qk (B, T, 2D) and the projected
  // table pos (R, 2D) through libtorch's autograd, as the reference computes
  // them; kernels::InferenceProbabilities and TrainingProbabilities give the
  // same numbers on CPU float32.
  torch::Tensor Probabilities(const torch::Tensor& qk, const torch::Tensor& pos,
                              const torch::Tensor& padding_mask) const;

  kernels::AttentionLayout layout_;  // how qk and the position table are cut, for the kernels
  int64_t num_heads_;
  int64_t head_size_;
  double scale_;
  PositionSplit split_;
};
TORCH_MODULE(Attention);

}  // namespace ltgbert::model
