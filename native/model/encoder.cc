#include "model/encoder.h"

namespace ltgbert::model {

EncoderLayerImpl::EncoderLayerImpl(const Config& c) {
  attention = register_module("attention", Attention(c));
  mlp = register_module("mlp", FeedForward(c));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                        const torch::Tensor& relative, const torch::Tensor& rows,
                                        torch::Tensor* probabilities) {
  if (rows.defined()) {
    auto h = x.reshape({-1, x.size(-1)}).index_select(0, rows) +
             attention->forward(x, padding_mask, relative, rows, probabilities);
    return h + mlp(h);
  }
  if (torch::GradMode::is_enabled()) {
    auto h = x + attention->forward(x, padding_mask, relative, {}, probabilities);
    return h + mlp(h);
  }
  // Without a graph, the residuals are added into the blocks' fresh outputs.
  auto h = attention->forward(x, padding_mask, relative, {}, probabilities).add_(x);
  return mlp(h).add_(h);
}

EncoderImpl::EncoderImpl(const Config& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(EncoderLayer(c));
}

torch::Tensor EncoderImpl::forward(torch::Tensor x, const torch::Tensor& padding_mask, const torch::Tensor& relative,
                                   const torch::Tensor& rows, Trace* trace) {
  const bool record_layers = trace != nullptr && trace->want_layers;
  const bool record_attentions = trace != nullptr && trace->want_attentions;
  if (record_layers) trace->layer_outputs.push_back(x);
  const size_t count = layers->size();
  for (size_t i = 0; i < count; ++i) {
    const bool last = i + 1 == count;
    torch::Tensor probabilities;
    x = layers[i]->as<EncoderLayerImpl>()->forward(x, padding_mask, relative, last ? rows : torch::Tensor(),
                                                   record_attentions ? &probabilities : nullptr);
    if (record_attentions) trace->attentions.push_back(probabilities);
    if (record_layers) trace->layer_outputs.push_back(x);
  }
  return x;
}

}  // namespace ltgbert::model
