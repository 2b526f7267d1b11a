#include "model/attention.h"

#include <cmath>
#include <limits>

namespace ltgbert::model {

namespace nn = torch::nn;

torch::Tensor MakePositionIndices(int64_t bucket_size, int64_t max_position) {
  auto range = torch::arange(max_position, torch::kLong);
  auto relative = range.unsqueeze(1) - range.unsqueeze(0);  // (q - k)
  auto sign = torch::sign(relative);
  const int64_t mid = bucket_size / 2;
  auto near = (relative < mid) & (relative > -mid);
  auto abs_pos = torch::where(near, torch::full_like(relative, mid - 1),
                              relative.abs().clamp_max(max_position - 1));
  // Float32 arithmetic, as the reference does it, so the rounding of ceil
  // agrees at every bucket edge.
  auto log_pos = torch::ceil(torch::log(abs_pos / mid) /
                             std::log(static_cast<double>(max_position - 1) / mid) * (mid - 1))
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
  position_indices = register_buffer(
      "position_indices", MakePositionIndices(c.position_bucket_size, c.max_position_embeddings));
  in_proj_qk = register_module("in_proj_qk", nn::Linear(c.hidden_size, 2 * c.hidden_size));
  in_proj_v = register_module("in_proj_v", nn::Linear(c.hidden_size, c.hidden_size));
  out_proj = register_module("out_proj", nn::Linear(c.hidden_size, c.hidden_size));
  pre_layer_norm = register_module(
      "pre_layer_norm",
      nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps).elementwise_affine(false)));
  post_layer_norm = register_module(
      "post_layer_norm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", nn::Dropout(c.attention_probs_dropout_prob));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                     const torch::Tensor& relative) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
  const int64_t H = num_heads_, d = head_size_;

  auto h = pre_layer_norm(x);
  auto qk = in_proj_qk(h);                                                  // (B, T, 2D)
  auto query = qk.narrow(-1, 0, D).view({B, T, H, d}).transpose(1, 2);      // (B, H, T, d)
  auto key = qk.narrow(-1, D, D).view({B, T, H, d}).transpose(1, 2);        // (B, H, T, d)
  auto value = in_proj_v(h).view({B, T, H, d}).transpose(1, 2);             // (B, H, T, d)

  auto pos = in_proj_qk(dropout(relative));  // (R, 2D)
  const int64_t R = pos.size(0);
  torch::Tensor query_pos, key_pos;  // (H, R, d) each
  if (split_ == PositionSplit::kPerHead) {
    auto halves = pos.view({R, H, 2 * d}).chunk(2, -1);  // (R, H, d) x2
    query_pos = halves[0].transpose(0, 1);
    key_pos = halves[1].transpose(0, 1);
  } else {
    query_pos = pos.narrow(-1, 0, D).view({R, H, d}).transpose(0, 1);
    key_pos = pos.narrow(-1, D, D).view({R, H, d}).transpose(0, 1);
  }

  auto scaled_key = key * scale_;
  auto scores = torch::matmul(query, scaled_key.transpose(-1, -2));  // (B, H, T, T)

  auto index = position_indices.narrow(0, 0, T).narrow(1, 0, T).expand({B, H, T, T});
  // c2p[q, k] = query_q . key_pos[idx(q, k)]
  auto c2p = torch::matmul(query, (key_pos * scale_).transpose(-1, -2));  // (B, H, T, R)
  scores.add_(c2p.gather(3, index));
  // p2c[q, k] = key_k . query_pos[idx(q, k)]
  auto p2c = torch::matmul(query_pos, scaled_key.transpose(-1, -2));  // (B, H, R, T)
  scores.add_(p2c.gather(2, index));

  scores.masked_fill_(padding_mask, -std::numeric_limits<float>::infinity());
  auto probs = torch::softmax(scores, -1).masked_fill(padding_mask, 0.0);
  probs = dropout(probs);

  auto context = torch::matmul(probs, value).transpose(1, 2).reshape({B, T, D});  // (B, T, D)
  return dropout(post_layer_norm(out_proj(context)));
}

}  // namespace ltgbert::model
