#include "model/heads.h"

#include "kernels/linear.h"
#include "kernels/path.h"

namespace ltgbert::model {

namespace nn = torch::nn;

namespace {

nn::LayerNorm NoAffineNorm(const Config& c) {
  return nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps).elementwise_affine(false));
}

}  // namespace

TiedDecoderImpl::TiedDecoderImpl(torch::Tensor tied_weight, int64_t vocab_size) : weight_(std::move(tied_weight)) {
  bias = register_parameter("bias", torch::zeros({vocab_size}));
}

torch::Tensor TiedDecoderImpl::forward(const torch::Tensor& x) {
  if (kernels::FusedLinear(kernels::ChoosePath(x)) && x.dim() == 2)
    return kernels::LinearRows(x, weight_, 0, weight_.size(0), bias, kernels::Epilogue::kNone);
  return torch::linear(x, weight_, bias);
}

MaskClassifierImpl::MaskClassifierImpl(const Config& c, torch::Tensor word_embedding_weight) {
  nonlinearity =
      register_module("nonlinearity", nn::Sequential(NoAffineNorm(c), nn::Linear(c.hidden_size, c.hidden_size),
                                                     nn::GELU(), NoAffineNorm(c), Dropout(c.hidden_dropout_prob),
                                                     TiedDecoder(std::move(word_embedding_weight), c.vocab_size)));
}

torch::Tensor MaskClassifierImpl::forward(const torch::Tensor& x) {
  auto sizes = x.sizes().vec();
  auto flat = x.reshape({-1, x.size(-1)});  // 2-D: the bias is fused into the product
  auto decoder = nonlinearity[5]->as<TiedDecoder>();
  torch::Tensor logits;
  const kernels::Path path = kernels::ChoosePath(flat);
  if (kernels::FusedLinear(path)) {
    // Inference on oneDNN: the GELU rides on the dense layer's product.
    auto h =
        kernels::Linear(*nonlinearity->ptr<torch::nn::LinearImpl>(1),
                        nonlinearity[0]->as<torch::nn::LayerNorm>()->forward(flat), path, kernels::Epilogue::kGeluErf);
    logits = decoder->forward(nonlinearity[3]->as<torch::nn::LayerNorm>()->forward(h));
  } else {
    logits = nonlinearity->forward(flat);
  }
  sizes.back() = logits.size(-1);
  return logits.view(sizes);
}

ClassificationHeadImpl::ClassificationHeadImpl(const Config& c) {
  nonlinearity =
      register_module("nonlinearity", nn::Sequential(NoAffineNorm(c), nn::Linear(c.hidden_size, c.hidden_size),
                                                     nn::GELU(), NoAffineNorm(c), Dropout(c.classifier_dropout),
                                                     nn::Linear(c.hidden_size, c.head_outputs())));
}

torch::Tensor ClassificationHeadImpl::forward(const torch::Tensor& x) {
  auto sizes = x.sizes().vec();
  auto flat = x.reshape({-1, x.size(-1)});  // 2-D: the bias is fused into the product
  const kernels::Path path = kernels::ChoosePath(flat);
  torch::Tensor out;
  if (kernels::FusedLinear(path)) {
    // Inference on oneDNN: the GELU rides on the dense layer's product, as in the masked-LM head.
    auto h = kernels::Linear(*nonlinearity->ptr<nn::LinearImpl>(1), nonlinearity[0]->as<nn::LayerNorm>()->forward(flat),
                             path, kernels::Epilogue::kGeluErf);
    out =
        kernels::Linear(*nonlinearity->ptr<nn::LinearImpl>(5), nonlinearity[3]->as<nn::LayerNorm>()->forward(h), path);
  } else {
    out = nonlinearity->forward(flat);
  }
  sizes.back() = out.size(-1);
  return out.view(sizes);
}

}  // namespace ltgbert::model
