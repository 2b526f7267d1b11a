// The attention's fast paths on CPU float32 (model/attention.cc holds the
// reference's autograd ops and chooses among these once per call):
// inference's fused probabilities and context, and training's
// probabilities and context as autograd functions with hand-written
// backward passes. Products run on oneDNN where the build has it, else on
// per-thread BLAS products.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace ltgbert::kernels {

// How the attention's tensors are laid out: qk is (B, T, 2D), query | key,
// with D = heads * head_size; the projected position table pos is (R, 2D),
// and head h's query (key) half starts at column Column(h, false (true)).
struct AttentionLayout {
  int64_t heads;
  int64_t head_size;
  double scale;  // of the query-key products: 1 / sqrt(3 * head_size)
  int64_t query_column0;
  int64_t key_column0;
  int64_t head_step;

  int64_t Column(int64_t head, bool key_half) const {
    return (key_half ? key_column0 : query_column0) + head * head_step;
  }
};

// Attention probabilities (B, H, T, T) from qk (contiguous), pos
// (contiguous) and the relative-position index (T, T) of table rows;
// padding_mask (B, 1, 1, T), true at padding keys, may be undefined. No
// autograd.
torch::Tensor InferenceProbabilities(const torch::Tensor& qk, const torch::Tensor& pos,
                                     const torch::Tensor& padding_mask, const torch::Tensor& index,
                                     const AttentionLayout& layout);

// context (B, T, D) = probs (B, H, T, T, contiguous) . value (B, T, D) per
// head. No autograd.
torch::Tensor InferenceContext(const torch::Tensor& probs, const torch::Tensor& value, const AttentionLayout& layout);

// InferenceProbabilities under autograd, with a hand-written backward.
torch::Tensor TrainingProbabilities(const torch::Tensor& qk, const torch::Tensor& pos,
                                    const torch::Tensor& padding_mask, const torch::Tensor& index,
                                    const AttentionLayout& layout);

// InferenceContext under autograd, with a hand-written backward.
torch::Tensor TrainingContext(const torch::Tensor& probs, const torch::Tensor& value, const AttentionLayout& layout);

}  // namespace ltgbert::kernels
