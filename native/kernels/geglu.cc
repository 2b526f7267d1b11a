#include "kernels/geglu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace ltgbert::kernels {

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

torch::Tensor GeGLU(const torch::Tensor& x) { return GeGLUFunction::apply(x); }

}  // namespace ltgbert::kernels
