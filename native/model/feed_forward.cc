#include "model/feed_forward.h"

#include "model/fast_linear.h"

namespace ltgbert::model {

namespace nn = torch::nn;

namespace {

// x * gelu_tanh(gate) over the two halves of one (M, 2I) tensor, whose
// backward writes both halves' gradients into one (M, 2I) tensor rather
// than two that autograd then concatenates.
class GeGLUFunction : public torch::autograd::Function<GeGLUFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    const int64_t I = x.size(-1) / 2;
    auto value = x.narrow(-1, 0, I), gate = x.narrow(-1, I, I);
    auto activated = torch::gelu(gate, /*approximate=*/"tanh");
    ctx->save_for_backward({x, activated});
    return activated * value;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& activated = saved[1];
    const int64_t I = x.size(-1) / 2;
    auto grad = grads[0];
    auto d_x = torch::empty_like(x);
    auto d_value = d_x.narrow(-1, 0, I), d_gate = d_x.narrow(-1, I, I);
    at::mul_out(d_value, grad, activated);
    at::gelu_backward_out(d_gate, grad * x.narrow(-1, 0, I), x.narrow(-1, I, I), /*approximate=*/"tanh");
    return {d_x};
  }
};

}  // namespace

torch::Tensor GeGLUImpl::forward(const torch::Tensor& x) {
  if (torch::GradMode::is_enabled() && x.is_cpu() && x.dim() == 2 && !fast::DisabledByEnvironment()) {
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
