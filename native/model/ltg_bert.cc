#include "model/ltg_bert.h"

#include <cmath>

#include "common/error.h"

namespace ltgbert::model {

namespace F = torch::nn::functional;

LtgBertImpl::LtgBertImpl(const Config& c) : config_(c) {
  embedding = register_module("embedding", Embedding(c));
  transformer = register_module("transformer", Encoder(c));
  if (c.task == Task::kMaskedLM) {
    mlm_head = register_module("classifier", MaskClassifier(c, embedding->word_embedding->weight));
    return;
  }
  switch (c.classifier_head) {
    case ClassifierHead::kLinear:
      head_dropout = register_module("dropout", torch::nn::Dropout(c.classifier_dropout));
      linear_head = register_module("classifier", torch::nn::Linear(c.hidden_size, c.num_labels));
      break;
    case ClassifierHead::kMlp:
      mlp_head = register_module("head", ClassificationHead(c));
      break;
    case ClassifierHead::kAuto:
      Fail(ErrorCode::kBadConfig, "config: classifier_head: must be decided before the model is built");
  }
}

Output LtgBertImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            const torch::Tensor& labels) {
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  auto padding_mask = attention_mask.eq(0).view({B, 1, 1, T});  // true at padding keys
  // Without padding the masking is the identity: skip it.
  if (!padding_mask.any().item<bool>()) padding_mask = torch::Tensor();

  auto [words, relative] = embedding(input_ids);
  Output out;
  out.last_hidden_state = transformer(words, padding_mask, relative);  // (B, T, D)

  if (config_.task == Task::kMaskedLM) {
    out.logits = mlm_head(out.last_hidden_state);  // (B, T, vocab)
  } else {
    auto first = out.last_hidden_state.select(1, 0);  // (B, D): the [CLS] position
    out.logits = linear_head ? linear_head(head_dropout(first)) : mlp_head(first);
  }
  if (labels.defined()) out.loss = Loss(out.logits, labels);
  return out;
}

torch::Tensor LtgBertImpl::Loss(const torch::Tensor& logits, const torch::Tensor& labels) const {
  if (config_.task == Task::kMaskedLM) {
    return F::cross_entropy(logits.reshape({-1, logits.size(-1)}), labels.reshape({-1}),
                            F::CrossEntropyFuncOptions().ignore_index(-100));
  }
  switch (config_.problem_type) {
    case ProblemType::kRegression:
      return F::mse_loss(logits.reshape({-1}), labels.reshape({-1}).to(logits.scalar_type()));
    case ProblemType::kMultiLabel:
      return F::binary_cross_entropy_with_logits(logits, labels.to(logits.scalar_type()));
    case ProblemType::kSingleLabel:
      break;
  }
  return F::cross_entropy(logits, labels);
}

void LtgBertImpl::Initialize(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double std = std::sqrt(2.0 / (5.0 * config_.hidden_size));
  // Truncated normal by inverse CDF: uniform in the CDF's image of [-2, 2] std.
  auto truncated_normal = [&](torch::Tensor t) {
    const double lo = 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0)));
    const double hi = 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0)));
    auto cpu = torch::empty(t.sizes(), torch::kFloat32);
    cpu.uniform_(2 * lo - 1, 2 * hi - 1, generator).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2 * std, 2 * std);
    t.copy_(cpu);
  };
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    const bool is_norm = name.find("layer_norm") != std::string::npos;
    if (p.dim() >= 2) {
      truncated_normal(p);
    } else if (is_norm && name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) {
      p.fill_(1.0);
    } else {
      p.zero_();
    }
  }
  int64_t i = 0;
  for (const auto& layer : *transformer->layers) {
    const double factor = std::sqrt(1.0 / (2.0 * (i + 1)));
    for (auto& item : layer->named_parameters()) {
      if (item.key().rfind("mlp.mlp.", 0) == 0) item.value().mul_(factor);
    }
    ++i;
  }
}

std::map<std::string, std::string> LtgBertImpl::TiedKeys() const {
  if (config_.task != Task::kMaskedLM) return {};
  return {{"classifier.nonlinearity.5.weight", "embedding.word_embedding.weight"}};
}

}  // namespace ltgbert::model
