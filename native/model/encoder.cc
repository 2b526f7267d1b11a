#include "model/encoder.h"

namespace ltgbert::model {

EncoderLayerImpl::EncoderLayerImpl(const Config& c) {
  attention = register_module("attention", Attention(c));
  mlp = register_module("mlp", FeedForward(c));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                        const torch::Tensor& relative, const torch::Tensor& rows) {
  if (rows.defined()) {
    auto h = x.reshape({-1, x.size(-1)}).index_select(0, rows) + attention(x, padding_mask, relative, rows);
    return h + mlp(h);
  }
  if (torch::GradMode::is_enabled()) {
    auto h = x + attention(x, padding_mask, relative);
    return h + mlp(h);
  }
  // Without a graph, the residuals are added into the blocks' fresh outputs.
  auto h = attention(x, padding_mask, relative).add_(x);
  return mlp(h).add_(h);
}

EncoderImpl::EncoderImpl(const Config& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(EncoderLayer(c));
}

torch::Tensor EncoderImpl::forward(torch::Tensor x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                                   const torch::Tensor& rows) {
  const size_t count = layers->size();
  for (size_t i = 0; i < count; ++i) {
    const bool last = i + 1 == count;
    x = layers[i]->as<EncoderLayerImpl>()->forward(x, padding_mask, relative, last ? rows : torch::Tensor());
  }
  return x;
}

}  // namespace ltgbert::model
