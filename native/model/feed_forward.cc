#include "model/feed_forward.h"

namespace ltgbert::model {

namespace nn = torch::nn;

torch::Tensor GeGLUImpl::forward(const torch::Tensor& x) {
  auto halves = x.chunk(2, -1);
  auto gate = torch::gelu(halves[1], /*approximate=*/"tanh");
  if (torch::GradMode::is_enabled()) return halves[0] * gate;
  return gate.mul_(halves[0]);  // no graph to keep: reuse the buffer
}

FeedForwardImpl::FeedForwardImpl(const Config& c) {
  auto no_affine = [&](int64_t size) {
    return nn::LayerNorm(nn::LayerNormOptions({size}).eps(c.layer_norm_eps).elementwise_affine(false));
  };
  mlp = register_module(
      "mlp", nn::Sequential(no_affine(c.hidden_size),
                            nn::Linear(nn::LinearOptions(c.hidden_size, 2 * c.intermediate_size).bias(false)), GeGLU(),
                            no_affine(c.intermediate_size),
                            nn::Linear(nn::LinearOptions(c.intermediate_size, c.hidden_size).bias(false)),
                            nn::Dropout(c.hidden_dropout_prob)));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  // 2-D input lets libtorch's linear take its fused path.
  return mlp->forward(x.reshape({-1, x.size(-1)})).view(x.sizes());
}

}  // namespace ltgbert::model
