#include "model/feed_forward.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "model/fast_linear.h"

namespace ltgbert::model {

namespace nn = torch::nn;

namespace {

// tanh in float32 as a rational function of x (odd polynomial of degree 13
// over even of degree 6; at most 4e-7 from tanh), in a form the compiler
// vectorises; libm's tanhf does not.
inline float RationalTanh(float x) {
  const float clamped = std::min(7.90531110763549805f, std::max(-7.90531110763549805f, x));
  const float x2 = clamped * clamped;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * clamped;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return std::fabs(x) < 0.0004f ? x : p / q;
}

constexpr float kGeluBeta = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluKappa = 0.044715f;

// out[r, j] = value[r, j] * gelu_tanh(gate[r, j]) for rows [begin, end) of
// x = [value | gate], (rows, 2I) -> (rows, I).
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3"))) void GeGLUForwardRows(
    const float* __restrict x, float* __restrict out, int64_t begin, int64_t end, int64_t I) {
  for (int64_t r = begin; r < end; ++r) {
    const float* value = x + r * 2 * I;
    const float* gate = value + I;
    float* o = out + r * I;
    for (int64_t j = 0; j < I; ++j) {
      const float g = gate[j];
      const float t = RationalTanh(kGeluBeta * (g + kGeluKappa * g * g * g));
      o[j] = value[j] * (0.5f * g * (1.f + t));
    }
  }
}

// The gradients of both halves: d_value = grad * gelu(gate), d_gate = grad
// * value * gelu'(gate), the activation recomputed rather than stored.
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3"))) void GeGLUBackwardRows(
    const float* __restrict x, const float* __restrict grad, float* __restrict dx, int64_t begin, int64_t end,
    int64_t I) {
  for (int64_t r = begin; r < end; ++r) {
    const float* value = x + r * 2 * I;
    const float* gate = value + I;
    const float* dy = grad + r * I;
    float* d_value = dx + r * 2 * I;
    float* d_gate = d_value + I;
    for (int64_t j = 0; j < I; ++j) {
      const float g = gate[j];
      const float g2 = g * g;
      const float t = RationalTanh(kGeluBeta * (g + kGeluKappa * g2 * g));
      const float half_g = 0.5f * g;
      const float activation = half_g * (1.f + t);
      const float slope = 0.5f * (1.f + t) + half_g * (1.f - t * t) * kGeluBeta * (1.f + 3.f * kGeluKappa * g2);
      d_value[j] = dy[j] * activation;
      d_gate[j] = dy[j] * value[j] * slope;
    }
  }
}

// x * gelu_tanh(gate) over the two halves of one (M, 2I) tensor: one pass
// forward and one backward, which writes both halves' gradients into one
// (M, 2I) tensor; only x is kept for the backward.
class GeGLUFunction : public torch::autograd::Function<GeGLUFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input) {
    auto x = input.contiguous();
    ctx->save_for_backward({x});
    const int64_t M = x.size(0), I = x.size(1) / 2;
    auto out = torch::empty({M, I}, x.options());
    const float* src = x.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, M, /*grain_size=*/16,
                     [&](int64_t begin, int64_t end) { GeGLUForwardRows(src, dst, begin, end, I); });
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    auto grad = grads[0].contiguous();
    const int64_t M = x.size(0), I = x.size(1) / 2;
    auto d_x = torch::empty_like(x);
    const float* src = x.data_ptr<float>();
    const float* dy = grad.data_ptr<float>();
    float* dst = d_x.data_ptr<float>();
    at::parallel_for(0, M, /*grain_size=*/16,
                     [&](int64_t begin, int64_t end) { GeGLUBackwardRows(src, dy, dst, begin, end, I); });
    return {d_x};
  }
};

}  // namespace

torch::Tensor GeGLUImpl::forward(const torch::Tensor& x) {
  if (torch::GradMode::is_enabled() && x.is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 2 &&
      !fast::DisabledByEnvironment()) {
    return GeGLUFunction::apply(x);
  }
  auto halves = x.chunk(2, -1);
  auto gate = torch::gelu(halves[1], /*approximate=*/"tanh");
  if (torch::GradMode::is_enabled()) return halves[0] * gate;
  return gate.mul_(halves[0]);  // no graph to keep: reuse the buffer
}

FeedForwardImpl::FeedForwardImpl(const Config& c) : intermediate_size_(c.intermediate_size) {
  auto no_affine = [&](int64_t size) {
    return nn::LayerNorm(nn::LayerNormOptions({size}).eps(c.layer_norm_eps).elementwise_affine(false));
  };
  mlp = register_module(
      "mlp", nn::Sequential(no_affine(c.hidden_size),
                            nn::Linear(nn::LinearOptions(c.hidden_size, 2 * c.intermediate_size).bias(false)), GeGLU(),
                            no_affine(c.intermediate_size),
                            nn::Linear(nn::LinearOptions(c.intermediate_size, c.hidden_size).bias(false)),
                            Dropout(c.hidden_dropout_prob)));
  input_norm_ = mlp->ptr<nn::LayerNormImpl>(0);
  up_ = mlp->ptr<nn::LinearImpl>(1);
  gated_norm_ = mlp->ptr<nn::LayerNormImpl>(3);
  down_ = mlp->ptr<nn::LinearImpl>(4);
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  auto flat = x.reshape({-1, x.size(-1)});  // 2-D: libtorch's linear fuses its bias there
  if (!fast::Usable(flat)) {
    // The same modules one by one, so that the products take fast::Apply.
    auto up = fast::Apply(*up_, input_norm_->forward(flat));
    auto down = fast::Apply(*down_, gated_norm_->forward(mlp[2]->as<GeGLU>()->forward(up)));
    return mlp[5]->as<Dropout>()->forward(down).view(x.sizes());
  }
  // Inference: the GeGLU rides on the gate half's product as its epilogue,
  // x * gelu_tanh(gate), with x the first half's product.
  const int64_t I = intermediate_size_;
  auto h = input_norm_->forward(flat);
  auto value = fast::Linear(h, up_->weight, /*row_begin=*/0, /*row_count=*/I, /*bias=*/{});
  auto gated = fast::Linear(h, up_->weight, /*row_begin=*/I, /*row_count=*/I, /*bias=*/{}, fast::Epilogue::kGeluTanh,
                            /*multiplier=*/value);
  return fast::Apply(*down_, gated_norm_->forward(gated)).view(x.sizes());
}

}  // namespace ltgbert::model
