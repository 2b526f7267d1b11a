#include "model/encoder.h"

namespace ltgbert::model {

EncoderLayerImpl::EncoderLayerImpl(const Config& c) {
  attention = register_module("attention", Attention(c));
  mlp = register_module("mlp", FeedForward(c));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                        const torch::Tensor& relative) {
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

torch::Tensor EncoderImpl::forward(torch::Tensor x, const torch::Tensor& padding_mask, const torch::Tensor& relative) {
  for (const auto& layer : *layers) {
    x = layer->as<EncoderLayerImpl>()->forward(x, padding_mask, relative);
  }
  return x;
}

}  // namespace ltgbert::model
