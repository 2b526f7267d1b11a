#include "model/feed_forward.h"

#include "kernels/geglu.h"
#include "kernels/linear.h"
#include "kernels/path.h"

namespace ltgbert::model {

namespace nn = torch::nn;

torch::Tensor GeGLUImpl::forward(const torch::Tensor& x) {
  if (kernels::ChoosePath(x) == kernels::Path::kTraining && x.dim() == 2) return kernels::GeGLU(x);
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
  const kernels::Path path = kernels::ChoosePath(flat);
  if (!kernels::FusedLinear(path)) {
    // The same modules one by one, so that the products take kernels::Linear.
    auto up = kernels::Linear(*up_, input_norm_->forward(flat), path);
    auto down = kernels::Linear(*down_, gated_norm_->forward(mlp[2]->as<GeGLU>()->forward(up)), path);
    return mlp[5]->as<Dropout>()->forward(down).view(x.sizes());
  }
  // Inference on oneDNN: the GeGLU rides on the gate half's product as its
  // epilogue, x * gelu_tanh(gate), with x the first half's product.
  const int64_t I = intermediate_size_;
  auto h = input_norm_->forward(flat);
  auto value = kernels::LinearRows(h, up_->weight, /*row_begin=*/0, /*row_count=*/I, /*bias=*/{});
  auto gated = kernels::LinearRows(h, up_->weight, /*row_begin=*/I, /*row_count=*/I, /*bias=*/{},
                                   kernels::Epilogue::kGeluTanh, /*multiplier=*/value);
  return kernels::Linear(*down_, gated_norm_->forward(gated), path).view(x.sizes());
}

}  // namespace ltgbert::model
