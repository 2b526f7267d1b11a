#include "model/attention.h"

#include <cmath>
#include <limits>

#include "kernels/linear.h"
#include "kernels/path.h"

namespace ltgbert::model {

namespace nn = torch::nn;

torch::Tensor MakePositionIndices(int64_t bucket_size, int64_t max_position) {
  auto range = torch::arange(max_position, torch::kLong);
  auto relative = range.unsqueeze(1) - range.unsqueeze(0);  // (q - k)
  auto sign = torch::sign(relative);
  const int64_t mid = bucket_size / 2;
  auto near = (relative < mid) & (relative > -mid);
  auto abs_pos = torch::where(near, torch::full_like(relative, mid - 1), relative.abs().clamp_max(max_position - 1));
  // Float32 arithmetic, as the reference does it, so the rounding of ceil
  // agrees at every bucket edge.
  auto log_pos =
      torch::ceil(torch::log(abs_pos / mid) / std::log(static_cast<double>(max_position - 1) / mid) * (mid - 1))
          .to(torch::kInt) +
      mid;
  auto bucket = torch::where(abs_pos <= mid, relative, log_pos * sign).to(torch::kLong);
  return bucket + (bucket_size - 1);
}

AttentionImpl::AttentionImpl(const Config& c)
    : num_heads_(c.num_attention_heads),
      head_size_(c.head_size()),
      scale_(1.0 / std::sqrt(3.0 * c.head_size())),
      split_(c.position_qk_split) {
  // Where head h's query (key) half of the projected table starts: per head,
  // [query_h | key_h] side by side; global, all queries, then all keys.
  const int64_t d = head_size_, D = c.hidden_size;
  const bool per_head = split_ == PositionSplit::kPerHead;
  layout_ = {num_heads_,
             d,
             scale_,
             /*query_column0=*/0,
             /*key_column0=*/per_head ? d : D,
             /*head_step=*/per_head ? 2 * d : d};
  position_indices =
      register_buffer("position_indices", MakePositionIndices(c.position_bucket_size, c.max_position_embeddings));
  in_proj_qk = register_module("in_proj_qk", nn::Linear(c.hidden_size, 2 * c.hidden_size));
  in_proj_v = register_module("in_proj_v", nn::Linear(c.hidden_size, c.hidden_size));
  out_proj = register_module("out_proj", nn::Linear(c.hidden_size, c.hidden_size));
  pre_layer_norm = register_module(
      "pre_layer_norm",
      nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps).elementwise_affine(false)));
  post_layer_norm =
      register_module("post_layer_norm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
  attention_dropout = register_module("attention_dropout", Dropout(c.attention_probs_dropout_prob));
}

std::pair<torch::Tensor, torch::Tensor> AttentionImpl::SplitPositions(const torch::Tensor& pos) const {
  const int64_t R = pos.size(0), H = num_heads_, d = head_size_, D = H * d;
  if (split_ == PositionSplit::kPerHead) {
    auto halves = pos.view({R, H, 2 * d}).chunk(2, -1);  // (R, H, d) x2
    return {halves[0].transpose(0, 1), halves[1].transpose(0, 1)};
  }
  return {pos.narrow(-1, 0, D).view({R, H, d}).transpose(0, 1), pos.narrow(-1, D, D).view({R, H, d}).transpose(0, 1)};
}

torch::Tensor AttentionImpl::Probabilities(const torch::Tensor& qk, const torch::Tensor& pos,
                                           const torch::Tensor& padding_mask) const {
  const int64_t B = qk.size(0), T = qk.size(1), D = qk.size(2) / 2;
  const int64_t H = num_heads_, d = head_size_;
  auto [query_pos, key_pos] = SplitPositions(pos);                                      // (H, R, d) each
  auto query = qk.narrow(-1, 0, D).view({B, T, H, d}).transpose(1, 2);                  // (B, H, T, d)
  auto scaled_key = (qk.narrow(-1, D, D) * scale_).view({B, T, H, d}).transpose(1, 2);  // (B, H, T, d)

  auto scores = torch::matmul(query, scaled_key.transpose(-1, -2));  // (B, H, T, T)
  auto index = position_indices.narrow(0, 0, T).narrow(1, 0, T).expand({B, H, T, T});
  // The position products run per head over all B*T tokens at once: H
  // large products rather than B*H small ones against a broadcast table.
  auto query_h = qk.narrow(-1, 0, D).reshape({B * T, H, d}).transpose(0, 1);  // (H, BT, d)
  auto key_h = scaled_key.transpose(0, 1).reshape({H, B * T, d});             // (H, BT, d)
  // c2p[q, k] = query_q . key_pos[idx(q, k)]
  auto c2p = torch::bmm(query_h, (key_pos * scale_).transpose(-1, -2))  // (H, BT, R)
                 .view({H, B, T, -1})
                 .transpose(0, 1);  // (B, H, T, R)
  // p2c[q, k] = key_k . query_pos[idx(q, k)]
  auto p2c = torch::bmm(query_pos, key_h.transpose(-1, -2))  // (H, R, BT)
                 .view({H, -1, B, T})
                 .permute({2, 0, 1, 3});  // (B, H, R, T)
  scores = scores + c2p.gather(3, index) + p2c.gather(2, index);
  if (!padding_mask.defined()) return torch::softmax(scores, -1);
  return torch::softmax(scores.masked_fill(padding_mask, -std::numeric_limits<float>::infinity()), -1)
      .masked_fill(padding_mask, 0.0);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                     const torch::Tensor& relative, const torch::Tensor& rows,
                                     torch::Tensor* probabilities) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
  const int64_t H = num_heads_, d = head_size_;
  const kernels::Path path = kernels::ChoosePath(x);

  // Linear layers see 2-D (B*T, D) input, where libtorch fuses the bias
  // into the product (for 3-D input it adds it in a second pass).
  auto h = pre_layer_norm(x).view({B * T, D});
  auto qk = kernels::Linear(*in_proj_qk, h, path).view({B, T, 2 * D});            // (B, T, 2D)
  auto value = kernels::Linear(*in_proj_v, h, path).view({B, T, D});              // (B, T, D)
  auto pos = kernels::Linear(*in_proj_qk, dropout(relative), path).contiguous();  // (R, 2D)
  auto index = position_indices.narrow(0, 0, T).narrow(1, 0, T);                  // (T, T)

  torch::Tensor probs;  // (B, H, T, T)
  switch (path) {
    case kernels::Path::kInference:
      probs = kernels::InferenceProbabilities(qk, pos, padding_mask, index, layout_);
      break;
    case kernels::Path::kTraining:
      probs = kernels::TrainingProbabilities(qk, pos, padding_mask, index, layout_);
      break;
    case kernels::Path::kReference:
      probs = Probabilities(qk, pos, padding_mask);
      break;
  }
  if (probabilities != nullptr) *probabilities = probs;
  probs = attention_dropout(probs);

  torch::Tensor context;  // (B, T, D)
  switch (path) {
    case kernels::Path::kInference:
      context = kernels::InferenceContext(probs.contiguous(), value, layout_);
      break;
    case kernels::Path::kTraining:
      context = kernels::TrainingContext(probs, value, layout_);
      break;
    case kernels::Path::kReference:
      context = torch::matmul(probs, value.view({B, T, H, d}).transpose(1, 2)).transpose(1, 2).reshape({B, T, D});
      break;
  }
  if (rows.defined())
    return dropout(post_layer_norm(kernels::Linear(*out_proj, context.view({B * T, D}).index_select(0, rows), path)));
  return dropout(post_layer_norm(kernels::Linear(*out_proj, context.view({B * T, D}), path))).view({B, T, D});
}

}  // namespace ltgbert::model
