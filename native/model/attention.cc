#include "model/attention.h"

#include <ATen/Parallel.h>

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
  dropout = register_module("dropout", nn::Dropout(c.attention_probs_dropout_prob));
}

namespace {

// out[i] = a[i] @ b[i] over the leading dimension, one product per thread.
// Small products (T x d by d x T) lose most of their time to BLAS's own
// threading; one thread each keeps them busy. Inputs may be strided views
// (unit stride in the last dimension), and `out` may be one too, so no
// operand is copied.
void BatchedMatmulInto(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor out) {
  at::parallel_for(0, a.size(0), /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      auto o = out.select(0, i);
      at::mm_out(o, a.select(0, i), b.select(0, i));
    }
  });
}

// a @ b for (N, M, K) x (N, K, P): autograd's bmm when gradients are wanted,
// the thread-per-product form otherwise.
torch::Tensor Bmm(const torch::Tensor& a, const torch::Tensor& b) {
  if (torch::GradMode::is_enabled()) return torch::bmm(a, b);
  auto out = torch::empty({a.size(0), a.size(1), b.size(2)}, a.options());
  BatchedMatmulInto(a, b, out);
  return out;
}

}  // namespace

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                     const torch::Tensor& relative) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
  const int64_t H = num_heads_, d = head_size_;
  const bool grad = torch::GradMode::is_enabled();

  auto h = pre_layer_norm(x);
  auto qk = in_proj_qk(h);                         // (B, T, 2D)
  auto value = in_proj_v(h);                       // (B, T, D)
  auto query = qk.narrow(-1, 0, D);                // (B, T, D), row stride 2D
  auto scaled_key = qk.narrow(-1, D, D) * scale_;  // (B, T, D)

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

  // Heads-major views (H, B*T, d): the position terms are one (B*T x d) by
  // (d x R) product per head.
  auto heads_major = [&](const torch::Tensor& t) { return t.reshape({B * T, H, d}).transpose(0, 1); };
  // c2p[q, k] = query_q . key_pos[idx(q, k)] (scaled)
  auto c2p = Bmm(heads_major(query), (key_pos * scale_).transpose(1, 2)).view({H, B, T, R});
  // p2c[q, k] = key_k . query_pos[idx(q, k)] (scaled): rows indexed by k here.
  auto p2c = Bmm(heads_major(scaled_key), query_pos.transpose(1, 2)).view({H, B, T, R});
  auto index = position_indices.narrow(0, 0, T).narrow(1, 0, T);              // (T, T)
  c2p = c2p.gather(3, index.expand({H, B, T, T})).permute({1, 0, 2, 3});      // (B, H, q, k)
  p2c = p2c.gather(3, index.t().expand({H, B, T, T})).permute({1, 0, 3, 2});  // (B, H, q, k)

  // Content scores q . k for every (batch, head): (B*H, T, T).
  auto per_head = [&](const torch::Tensor& t) { return t.view({B, T, H, d}).transpose(1, 2); };  // (B, H, T, d)
  torch::Tensor scores;
  if (grad) {
    scores = torch::matmul(per_head(query), per_head(scaled_key).transpose(-1, -2));  // (B, H, T, T)
    scores = scores + c2p + p2c;
  } else {
    scores = torch::empty({B, H, T, T}, x.options());
    auto q4 = per_head(query), k4 = per_head(scaled_key).transpose(-1, -2);
    at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        auto o = scores[i / H][i % H];
        at::mm_out(o, q4[i / H][i % H], k4[i / H][i % H]);
      }
    });
    scores.add_(c2p).add_(p2c);
  }

  torch::Tensor probs;
  if (padding_mask.defined()) {
    probs = torch::softmax(scores.masked_fill(padding_mask, -std::numeric_limits<float>::infinity()), -1)
                .masked_fill(padding_mask, 0.0);
  } else {
    probs = torch::softmax(scores, -1);
  }
  probs = dropout(probs);

  torch::Tensor context;  // (B, T, D)
  if (grad) {
    context = torch::matmul(probs, per_head(value)).transpose(1, 2).reshape({B, T, D});
  } else {
    // Each (batch, head) product lands in its place in (B, T, H, d).
    context = torch::empty({B, T, D}, x.options());
    auto out4 = context.view({B, T, H, d}).transpose(1, 2);
    auto v4 = per_head(value);
    at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        auto o = out4[i / H][i % H];
        at::mm_out(o, probs[i / H][i % H], v4[i / H][i % H]);
      }
    });
  }
  return dropout(post_layer_norm(out_proj(context)));
}

}  // namespace ltgbert::model
