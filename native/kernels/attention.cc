#include "kernels/attention.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <limits>
#include <vector>

#include "kernels/linear.h"

namespace ltgbert::kernels {

// The CBLAS entry point of the BLAS that libtorch links (OpenBLAS on
// Debian), when that BLAS exports it; libtorch's own gemm wrapper is not
// exported. Weak: a libtorch without it leaves this null, and the products
// go through at::mm_out instead.
extern "C" void cblas_sgemm(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a,
                            int lda, const float* b, int ldb, float beta, float* c, int ldc) __attribute__((weak));

namespace {

constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;
constexpr int kCblasTrans = 112;

// C = alpha * op(A) @ op(B) + beta * C for row-major matrices with leading dimensions:
// A is M x K (K x M stored when trans_a), B is K x N (N x K stored when
// trans_b). Called from inside at::parallel_for: one product per thread.
void RowMajorGemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, bool trans_a,
                  const float* b, int64_t ldb, bool trans_b, float* c, int64_t ldc, float beta = 0.0f) {
  if (cblas_sgemm != nullptr) {
    cblas_sgemm(kCblasRowMajor, trans_a ? kCblasTrans : kCblasNoTrans, trans_b ? kCblasTrans : kCblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
                static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
    return;
  }
  auto view = [](const float* data, int64_t rows, int64_t cols, int64_t ld, bool trans) {
    auto t = torch::from_blob(const_cast<float*>(data), {rows, cols}, {ld, 1}, torch::kFloat32);
    return trans ? t.t() : t;
  };
  auto out = torch::from_blob(c, {m, n}, {ldc, 1}, torch::kFloat32);
  out.addmm_(view(a, trans_a ? k : m, trans_a ? m : k, lda, trans_a),
             view(b, trans_b ? n : k, trans_b ? k : n, ldb, trans_b), beta, alpha);
}

// scores[q][k] += c2p[q][idx[q][k]] + p2c_t[idx[q][k]][k] over one
// (batch, head): c2p is (T, R), p2c_t (R, T) with row stride p2c_stride, idx
// an int32 (T, T) table.
// Cloned for AVX-512 and AVX2, where the compiler vectorises the gathers.
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3"))) void AddPositionTerms(
    float* __restrict scores, const float* __restrict c2p, const float* __restrict p2c_t,
    const int32_t* __restrict index, int64_t T, int64_t R, int64_t p2c_stride) {
  for (int64_t q = 0; q < T; ++q) {
    float* row = scores + q * T;
    const float* c = c2p + q * R;
    const int32_t* idx = index + q * T;
    for (int64_t k = 0; k < T; ++k) {
      const int32_t r = idx[k];
      row[k] = (row[k] + c[r]) + p2c_t[r * p2c_stride + k];
    }
  }
}

// The scores (before softmax) on oneDNN: three batched products
// (content scores per (batch, head), c2p and p2c per head against the
// scaled position table), each read in place through strides, then the
// gather of the position terms per (batch, head). False where oneDNN cannot.
bool ScoresOneDnn(const torch::Tensor& qk, const torch::Tensor& pos, const int32_t* index,
                  const AttentionLayout& layout, torch::Tensor& scores) {
  const int64_t B = qk.size(0), T = qk.size(1), D = qk.size(2) / 2;
  const int64_t H = layout.heads, d = layout.head_size, R = pos.size(0), BT = B * T;
  const float scale = static_cast<float>(layout.scale);
  auto scaled_pos = (pos * layout.scale).contiguous();  // (R, 2D), as the reference scales key_pos
  const float* qk_data = qk.data_ptr<float>();
  const float* table = scaled_pos.data_ptr<float>();
  const int64_t head_step = layout.Column(1, false) - layout.Column(0, false);  // 2d per head, or d
  RECORD_FUNCTION("ltgbert::attention_scores", std::vector<c10::IValue>());
  auto c2p = torch::empty({H, BT, R}, qk.options());    // query_h . key_pos_h
  auto p2c_t = torch::empty({H, R, BT}, qk.options());  // query_pos_h . key_h
  const bool done = BatchedMatmul({qk_data, {H, BT, d}, {d, 2 * D, 1}},
                                  {table + layout.Column(0, true), {H, d, R}, {head_step, 1, 2 * D}},
                                  {c2p.data_ptr<float>(), {H, BT, R}, {BT * R, R, 1}}, 1.f) &&
                    BatchedMatmul({table + layout.Column(0, false), {H, R, d}, {head_step, 2 * D, 1}},
                                  {qk_data + D, {H, d, BT}, {d, 1, 2 * D}},
                                  {p2c_t.data_ptr<float>(), {H, R, BT}, {R * BT, BT, 1}}, 1.f) &&
                    BatchedMatmul({qk_data, {B, H, T, d}, {T * 2 * D, d, 2 * D, 1}},
                                  {qk_data + D, {B, H, d, T}, {T * 2 * D, d, 1, 2 * D}},
                                  {scores.data_ptr<float>(), {B, H, T, T}, {H * T * T, T * T, T, 1}}, scale);
  if (!done) return false;
  const float* c2p_data = c2p.data_ptr<float>();
  const float* p2c_data = p2c_t.data_ptr<float>();
  float* scores_data = scores.data_ptr<float>();
  {
    RECORD_FUNCTION("ltgbert::position_terms", std::vector<c10::IValue>());
    at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t b = i / H, h = i % H;
        AddPositionTerms(scores_data + i * T * T, c2p_data + (h * BT + b * T) * R, p2c_data + h * R * BT + b * T, index,
                         T, R, BT);
      }
    });
  }
  return true;
}

// Each (batch, head) runs on one thread (small products lose most of their
// time to BLAS's own threading) and keeps its work in cache: the content
// scores, its c2p and p2c products against the R table rows, and one pass
// that gathers those into the scores. Operands are read in place through
// their leading dimensions and the scale rides on BLAS's alpha.
void ScoresBlas(const torch::Tensor& qk, const torch::Tensor& pos, const int32_t* index, const AttentionLayout& layout,
                torch::Tensor& scores) {
  const int64_t B = qk.size(0), T = qk.size(1), D = qk.size(2) / 2;
  const int64_t H = layout.heads, d = layout.head_size, R = pos.size(0);
  const float scale = static_cast<float>(layout.scale);
  const float* qk_data = qk.data_ptr<float>();    // (B, T, 2D): query | key
  const float* pos_data = pos.data_ptr<float>();  // (R, 2D)
  float* scores_data = scores.data_ptr<float>();
  at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    std::vector<float> c2p(T * R), p2c_t(R * T);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / H, h = i % H;
      const float* query = qk_data + b * T * 2 * D + h * d;                      // (T, d), row stride 2D
      const float* key = query + D;                                              // (T, d), row stride 2D
      const float* query_pos = pos_data + layout.Column(h, /*key_half=*/false);  // (R, d), row stride 2D
      const float* key_pos = pos_data + layout.Column(h, /*key_half=*/true);
      float* s = scores_data + i * T * T;
      RowMajorGemm(T, T, d, scale, query, 2 * D, false, key, 2 * D, true, s, T);                 // q . k
      RowMajorGemm(T, R, d, scale, query, 2 * D, false, key_pos, 2 * D, true, c2p.data(), R);    // q . key_pos
      RowMajorGemm(R, T, d, scale, query_pos, 2 * D, false, key, 2 * D, true, p2c_t.data(), T);  // query_pos . k
      AddPositionTerms(s, c2p.data(), p2c_t.data(), index, T, R, T);
    }
  });
}

}  // namespace

// The same numbers as the reference's autograd ops (model/attention.cc),
// without autograd: the scores from ScoresOneDnn, or without oneDNN from
// ScoresBlas, then the softmax.
torch::Tensor InferenceProbabilities(const torch::Tensor& qk, const torch::Tensor& pos,
                                     const torch::Tensor& padding_mask, const torch::Tensor& index,
                                     const AttentionLayout& layout) {
  const int64_t B = qk.size(0), T = qk.size(1);
  auto index32 = index.to(torch::kInt32).contiguous();  // (T, T)
  auto scores = torch::empty({B, layout.heads, T, T}, qk.options());
  if (!ScoresOneDnn(qk, pos, index32.data_ptr<int32_t>(), layout, scores))
    ScoresBlas(qk, pos, index32.data_ptr<int32_t>(), layout, scores);
  if (!padding_mask.defined()) return torch::softmax(scores, -1);
  return torch::softmax(scores.masked_fill_(padding_mask, -std::numeric_limits<float>::infinity()), -1)
      .masked_fill_(padding_mask, 0.0);
}

// context (B, T, H * d) = probs (B, H, T, T) . value (B, T, H * d) per
// head, all contiguous: each (batch, head) reads and writes its columns in
// place through the leading dimension, no transposed copies. Inference and
// training's forward share it.
static torch::Tensor ContextProduct(const torch::Tensor& probs, const torch::Tensor& value, int64_t heads) {
  const int64_t B = value.size(0), T = value.size(1), D = value.size(2), H = heads, d = D / H;
  RECORD_FUNCTION("ltgbert::attention_context", std::vector<c10::IValue>());
  auto context = torch::empty({B, T, D}, value.options());  // (B, T, H, d) in place
  const float* p_data = probs.data_ptr<float>();
  const float* v_data = value.data_ptr<float>();
  float* c_data = context.data_ptr<float>();
  if (BatchedMatmul({p_data, {B, H, T, T}, {H * T * T, T * T, T, 1}}, {v_data, {B, H, T, d}, {T * D, d, D, 1}},
                    {c_data, {B, H, T, d}, {T * D, d, D, 1}}, 1.f)) {
    return context;
  }
  at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / H, h = i % H;
      RowMajorGemm(T, d, T, 1.0f, p_data + i * T * T, T, false, v_data + b * T * D + h * d, D, false,
                   c_data + b * T * D + h * d, D);
    }
  });
  return context;
}

torch::Tensor InferenceContext(const torch::Tensor& probs, const torch::Tensor& value, const AttentionLayout& layout) {
  return ContextProduct(probs, value, layout.heads);
}

namespace {

// Float32 CPU attention probabilities with a hand-written backward: the
// forward is the inference path's (batched scores, gathered position
// terms, masked softmax); the backward runs the softmax's gradient and the
// content products per (batch, head) on one thread each, scatters the
// score gradients onto the position-table rows, and then takes the
// position products per head over all B*T tokens at once. libtorch's
// autograd would instead run B*H small batched products for each of the
// five matrix products and gather/scatter through (B, H, T, T) index
// tensors.
class ProbabilitiesFunction : public torch::autograd::Function<ProbabilitiesFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qk, const torch::Tensor& pos,
                               const torch::Tensor* padding_mask, const torch::Tensor& index, int64_t heads,
                               double scale, int64_t query_column0, int64_t key_column0, int64_t head_step) {
    // The mask travels by pointer: autograd refuses an undefined tensor input.
    torch::Tensor probs;
    {
      RECORD_FUNCTION("ltgbert::attention_probs", std::vector<c10::IValue>());
      const AttentionLayout layout{heads, qk.size(2) / 2 / heads, scale, query_column0, key_column0, head_step};
      probs = InferenceProbabilities(qk.contiguous(), pos.contiguous(), *padding_mask, index, layout);
    }
    ctx->save_for_backward({qk, pos, probs, index});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["query_column0"] = query_column0;
    ctx->saved_data["key_column0"] = key_column0;
    ctx->saved_data["head_step"] = head_step;
    return probs;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    torch::NoGradGuard no_grad;
    auto saved = ctx->get_saved_variables();
    const torch::Tensor qk = saved[0].contiguous(), pos = saved[1].contiguous();
    const torch::Tensor probs = saved[2].contiguous(), index = saved[3].contiguous();
    const torch::Tensor grad = grads[0].contiguous();
    const int64_t H = ctx->saved_data["heads"].toInt();
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const int64_t query_column0 = ctx->saved_data["query_column0"].toInt();
    const int64_t key_column0 = ctx->saved_data["key_column0"].toInt();
    const int64_t head_step = ctx->saved_data["head_step"].toInt();
    const int64_t B = qk.size(0), T = qk.size(1), D = qk.size(2) / 2, d = D / H, R = pos.size(0), BT = B * T;

    auto d_qk = torch::empty_like(qk);
    auto c2p_grad = torch::zeros({H, BT, R}, qk.options());  // d scores / d c2p, rows of all tokens
    auto p2c_grad = torch::zeros({H, R, BT}, qk.options());  // d scores / d p2c
    const float* qk_data = qk.data_ptr<float>();
    const float* probs_data = probs.data_ptr<float>();
    const float* grad_data = grad.data_ptr<float>();
    const int32_t* idx = index.data_ptr<int32_t>();
    float* d_qk_data = d_qk.data_ptr<float>();
    float* c2p_data = c2p_grad.data_ptr<float>();
    float* p2c_data = p2c_grad.data_ptr<float>();

    // The softmax's gradient per (batch, head), kept whole for the batched
    // content products below, and scattered onto the position-table rows.
    auto d_scores = torch::empty({B, H, T, T}, qk.options());
    float* ds_data = d_scores.data_ptr<float>();
    {
      RECORD_FUNCTION("ltgbert::probs_backward_scores", std::vector<c10::IValue>());
      at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t b = i / H, h = i % H;
          const float* p = probs_data + i * T * T;
          const float* g = grad_data + i * T * T;
          float* s = ds_data + i * T * T;
          for (int64_t q = 0; q < T; ++q) {  // softmax: ds = p * (g - sum(p * g))
            float dot = 0.f;
            for (int64_t k = 0; k < T; ++k) dot += p[q * T + k] * g[q * T + k];
            for (int64_t k = 0; k < T; ++k) s[q * T + k] = p[q * T + k] * (g[q * T + k] - dot);
          }
          float* c2p = c2p_data + (h * BT + b * T) * R;  // (T, R), row stride R
          float* p2c = p2c_data + h * R * BT + b * T;    // (R, T), row stride BT
          for (int64_t q = 0; q < T; ++q) {
            for (int64_t k = 0; k < T; ++k) {
              const int32_t r = idx[q * T + k];
              c2p[q * R + r] += s[q * T + k];
              p2c[r * BT + k] += s[q * T + k];
            }
          }
        }
      });
    }
    RECORD_FUNCTION("ltgbert::probs_backward_products", std::vector<c10::IValue>());
    // The content products, d_query = ds . key and d_key = ds^T . query
    // (times the scale), batched over (batch, head) on oneDNN, or per
    // (batch, head) on BLAS.
    const int64_t row = 2 * D;  // row stride of qk and d_qk
    const bool batched =
        BatchedMatmul({ds_data, {B, H, T, T}, {H * T * T, T * T, T, 1}},
                      {qk_data + D, {B, H, T, d}, {T * row, d, row, 1}},
                      {d_qk_data, {B, H, T, d}, {T * row, d, row, 1}}, scale) &&
        BatchedMatmul({ds_data, {B, H, T, T}, {H * T * T, T * T, 1, T}}, {qk_data, {B, H, T, d}, {T * row, d, row, 1}},
                      {d_qk_data + D, {B, H, T, d}, {T * row, d, row, 1}}, scale);
    if (!batched) {
      at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t b = i / H, h = i % H;
          const float* s = ds_data + i * T * T;
          const float* query = qk_data + b * T * row + h * d;  // (T, d), row stride 2D
          const float* key = query + D;
          float* d_query = d_qk_data + b * T * row + h * d;
          float* d_key = d_query + D;
          RowMajorGemm(T, d, T, scale, s, T, false, key, row, false, d_query, row);  // ds . k
          RowMajorGemm(T, d, T, scale, s, T, true, query, row, false, d_key, row);   // ds^T . q
        }
      });
    }
    // The position terms per head over all tokens: batched over the heads
    // on oneDNN, or one head per thread on BLAS. d_query += c2p_grad .
    // key_pos and d_key += p2c_grad^T . query_pos; the table's gradient is
    // c2p_grad^T . query (key half) and p2c_grad . key (query half).
    auto d_pos = torch::zeros_like(pos);
    const float* pos_data = pos.data_ptr<float>();
    float* d_pos_data = d_pos.data_ptr<float>();
    const int64_t table_row = 2 * D;
    // Each product falls back on its own, so none is applied twice.
    auto per_head = [&](auto&& product) {
      at::parallel_for(0, H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
        for (int64_t h = begin; h < end; ++h) {
          product(h, qk_data + h * d, d_qk_data + h * d, c2p_data + h * BT * R, p2c_data + h * R * BT,
                  query_column0 + h * head_step, key_column0 + h * head_step);
        }
      });
    };
    // query, d_query: (BT, d), row stride 2D (key, d_key D further); c2p (BT, R); p2c (R, BT).
    if (!BatchedMatmul({c2p_data, {H, BT, R}, {BT * R, R, 1}},
                       {pos_data + key_column0, {H, R, d}, {head_step, table_row, 1}},
                       {d_qk_data, {H, BT, d}, {d, row, 1}}, scale, /*accumulate=*/true)) {
      per_head([&](int64_t, const float*, float* d_query, const float* c2p, const float*, int64_t, int64_t key_col) {
        RowMajorGemm(BT, d, R, scale, c2p, R, false, pos_data + key_col, table_row, false, d_query, row, 1.0f);
      });
    }
    if (!BatchedMatmul({p2c_data, {H, BT, R}, {R * BT, 1, BT}},
                       {pos_data + query_column0, {H, R, d}, {head_step, table_row, 1}},
                       {d_qk_data + D, {H, BT, d}, {d, row, 1}}, scale, /*accumulate=*/true)) {
      per_head([&](int64_t, const float*, float* d_query, const float*, const float* p2c, int64_t query_col, int64_t) {
        RowMajorGemm(BT, d, R, scale, p2c, BT, true, pos_data + query_col, table_row, false, d_query + D, row, 1.0f);
      });
    }
    if (!BatchedMatmul({c2p_data, {H, R, BT}, {BT * R, 1, R}}, {qk_data, {H, BT, d}, {d, row, 1}},
                       {d_pos_data + key_column0, {H, R, d}, {head_step, table_row, 1}}, scale)) {
      per_head([&](int64_t, const float* query, float*, const float* c2p, const float*, int64_t, int64_t key_col) {
        RowMajorGemm(R, d, BT, scale, c2p, R, true, query, row, false, d_pos_data + key_col, table_row);
      });
    }
    if (!BatchedMatmul({p2c_data, {H, R, BT}, {R * BT, BT, 1}}, {qk_data + D, {H, BT, d}, {d, row, 1}},
                       {d_pos_data + query_column0, {H, R, d}, {head_step, table_row, 1}}, scale)) {
      per_head([&](int64_t, const float* query, float*, const float*, const float* p2c, int64_t query_col, int64_t) {
        RowMajorGemm(R, d, BT, scale, p2c, BT, false, query + D, row, false, d_pos_data + query_col, table_row);
      });
    }
    return {d_qk,
            d_pos,
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

// context (B, T, D) = probs (B, H, T, T) . value (B, T, D) per head, with
// its backward, each (batch, head) on one thread and every operand read and
// written in place through its leading dimension: no transposed copies.
class ContextFunction : public torch::autograd::Function<ContextFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& probs,
                               const torch::Tensor& value, int64_t heads) {
    auto p = probs.contiguous(), v = value.contiguous();
    ctx->save_for_backward({p, v});
    ctx->saved_data["heads"] = heads;
    return ContextProduct(p, v, heads);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& p = saved[0];
    const torch::Tensor& v = saved[1];
    auto grad = grads[0].contiguous();
    const int64_t B = v.size(0), T = v.size(1), D = v.size(2), H = ctx->saved_data["heads"].toInt(), d = D / H;
    auto d_probs = torch::empty_like(p);
    auto d_value = torch::empty_like(v);
    const float* p_data = p.data_ptr<float>();
    const float* v_data = v.data_ptr<float>();
    const float* g_data = grad.data_ptr<float>();
    float* dp_data = d_probs.data_ptr<float>();
    float* dv_data = d_value.data_ptr<float>();
    // d_probs = grad . value^T and d_value = probs^T . grad per (batch,
    // head): batched on oneDNN, or per (batch, head) on BLAS.
    if (BatchedMatmul({g_data, {B, H, T, d}, {T * D, d, D, 1}}, {v_data, {B, H, d, T}, {T * D, d, 1, D}},
                      {dp_data, {B, H, T, T}, {H * T * T, T * T, T, 1}}, 1.f) &&
        BatchedMatmul({p_data, {B, H, T, T}, {H * T * T, T * T, 1, T}}, {g_data, {B, H, T, d}, {T * D, d, D, 1}},
                      {dv_data, {B, H, T, d}, {T * D, d, D, 1}}, 1.f)) {
      return {d_probs, d_value, torch::Tensor()};
    }
    at::parallel_for(0, B * H, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t b = i / H, h = i % H;
        const float* g = g_data + b * T * D + h * d;  // (T, d), row stride D
        RowMajorGemm(T, T, d, 1.0f, g, D, false, v_data + b * T * D + h * d, D, true, dp_data + i * T * T, T);
        RowMajorGemm(T, d, T, 1.0f, p_data + i * T * T, T, true, g, D, false, dv_data + b * T * D + h * d, D);
      }
    });
    return {d_probs, d_value, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor TrainingProbabilities(const torch::Tensor& qk, const torch::Tensor& pos,
                                    const torch::Tensor& padding_mask, const torch::Tensor& index,
                                    const AttentionLayout& layout) {
  return ProbabilitiesFunction::apply(qk, pos, &padding_mask, index.to(torch::kInt32).contiguous(), layout.heads,
                                      layout.scale, layout.query_column0, layout.key_column0, layout.head_step);
}

torch::Tensor TrainingContext(const torch::Tensor& probs, const torch::Tensor& value, const AttentionLayout& layout) {
  return ContextFunction::apply(probs, value, layout.heads);
}

}  // namespace ltgbert::kernels
