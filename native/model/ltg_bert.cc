#include "model/ltg_bert.h"

#include <cmath>
#include <set>
#include <string>

#include "common/error.h"

namespace ltgbert::model {

namespace F = torch::nn::functional;

ShapeMap StateShapes(const Config& c) {
  const int64_t D = c.hidden_size, I = c.intermediate_size;
  ShapeMap shapes;
  shapes["embedding.relative_embedding"] = {2 * c.position_bucket_size - 1, D};
  shapes["embedding.word_embedding.weight"] = {c.vocab_size, D};
  shapes["embedding.relative_layer_norm.weight"] = {D};
  shapes["embedding.relative_layer_norm.bias"] = {D};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "transformer.layers." + std::to_string(i) + ".";
    const std::string a = layer + "attention.";
    shapes[a + "position_indices"] = {c.max_position_embeddings, c.max_position_embeddings};
    shapes[a + "in_proj_qk.weight"] = {2 * D, D};
    shapes[a + "in_proj_qk.bias"] = {2 * D};
    shapes[a + "in_proj_v.weight"] = {D, D};
    shapes[a + "in_proj_v.bias"] = {D};
    shapes[a + "out_proj.weight"] = {D, D};
    shapes[a + "out_proj.bias"] = {D};
    shapes[a + "post_layer_norm.weight"] = {D};
    shapes[a + "post_layer_norm.bias"] = {D};
    shapes[layer + "mlp.mlp.1.weight"] = {2 * I, D};
    shapes[layer + "mlp.mlp.4.weight"] = {D, I};
  }
  if (c.task == Task::kMaskedLM) {
    shapes["classifier.nonlinearity.1.weight"] = {D, D};
    shapes["classifier.nonlinearity.1.bias"] = {D};
    shapes["classifier.nonlinearity.5.bias"] = {c.vocab_size};
  } else if (c.task == Task::kBase) {
    // The bare encoder: no head.
  } else if (c.task == Task::kSequenceClassification && c.classifier_head == ClassifierHead::kLinear) {
    shapes["classifier.weight"] = {c.num_labels, D};
    shapes["classifier.bias"] = {c.num_labels};
  } else if (c.task != Task::kSequenceClassification || c.classifier_head == ClassifierHead::kMlp) {
    shapes["head.nonlinearity.1.weight"] = {D, D};
    shapes["head.nonlinearity.1.bias"] = {D};
    shapes["head.nonlinearity.5.weight"] = {c.head_outputs(), D};
    shapes["head.nonlinearity.5.bias"] = {c.head_outputs()};
  }
  return shapes;
}

std::map<std::string, std::string> TiedKeys(const Config& c) {
  if (c.task != Task::kMaskedLM) return {};
  return {{"classifier.nonlinearity.5.weight", "embedding.word_embedding.weight"}};
}

LtgBertImpl::LtgBertImpl(const Config& c) : config_(c) {
  embedding = register_module("embedding", Embedding(c));
  transformer = register_module("transformer", Encoder(c));
  if (c.task == Task::kMaskedLM) {
    mlm_head = register_module("classifier", MaskClassifier(c, embedding->word_embedding->weight));
    return;
  }
  if (c.task != Task::kSequenceClassification) {
    if (c.task != Task::kBase) mlp_head = register_module("head", ClassificationHead(c));
    CheckShapes();
    return;
  }
  switch (c.classifier_head) {
    case ClassifierHead::kLinear:
      head_dropout = register_module("dropout", Dropout(c.classifier_dropout));
      linear_head = register_module("classifier", torch::nn::Linear(c.hidden_size, c.num_labels));
      break;
    case ClassifierHead::kMlp:
      mlp_head = register_module("head", ClassificationHead(c));
      break;
    case ClassifierHead::kAuto:
      Fail(ErrorCode::kBadConfig, "config: classifier_head: must be decided before the model is built");
  }
  CheckShapes();
}

void LtgBertImpl::CheckShapes() const {
  ShapeMap built;
  for (const auto& p : named_parameters()) built[p.key()] = p.value().sizes().vec();
  for (const auto& b : named_buffers()) built[b.key()] = b.value().sizes().vec();
  const ShapeMap expected = StateShapes(config_);
  if (built == expected) return;
  for (const auto& [key, shape] : built) {
    auto it = expected.find(key);
    if (it == expected.end()) Fail(ErrorCode::kInternal, "model: StateShapes lacks ", key);
    if (it->second != shape) Fail(ErrorCode::kInternal, "model: StateShapes has another shape for ", key);
  }
  Fail(ErrorCode::kInternal, "model: StateShapes has keys the model lacks");
}

torch::Tensor LtgBertImpl::Encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                  const torch::Tensor& rows, Trace* trace) {
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  auto padding_mask = attention_mask.eq(0).view({B, 1, 1, T});  // true at padding keys
  // Without padding the masking is the identity: skip it.
  if (!padding_mask.any().item<bool>()) padding_mask = torch::Tensor();

  auto [words, relative] = embedding(input_ids);
  return transformer(words, padding_mask, relative, rows, trace);  // (B, T, D), or (N, D) with rows
}

void LtgBertImpl::Head(const torch::Tensor& hidden, const torch::Tensor& first, int64_t batch, Output& out) {
  switch (config_.task) {
    case Task::kMaskedLM:
      out.logits = mlm_head(hidden);  // (B, T, vocab)
      break;
    case Task::kSequenceClassification:
      out.logits = linear_head ? linear_head(head_dropout(first)) : mlp_head(first);  // (B, num_labels)
      break;
    case Task::kTokenClassification:
      out.logits = mlp_head(hidden);  // (B, T, num_labels)
      break;
    case Task::kQuestionAnswering: {
      out.logits = mlp_head(hidden);  // (B, T, 2)
      out.start_logits = out.logits.select(-1, 0);
      out.end_logits = out.logits.select(-1, 1);
      break;
    }
    case Task::kMultipleChoice:
      out.logits = mlp_head(first).view({batch, -1});  // (B*C, 1) -> (B, C)
      break;
    case Task::kBase:
      break;
  }
}

Output LtgBertImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            const torch::Tensor& labels, const ForwardOptions& options) {
  const bool choices = config_.task == Task::kMultipleChoice;
  // Multiple choice: each of the C choices is a row of its own, (B * C, T).
  const auto ids = choices ? input_ids.reshape({-1, input_ids.size(-1)}) : input_ids;
  const auto mask = choices ? attention_mask.reshape({-1, attention_mask.size(-1)}) : attention_mask;
  const int64_t N = ids.size(0), T = ids.size(1);

  Trace trace;
  trace.want_layers = options.hidden_states;
  trace.want_attentions = options.attentions;
  Trace* recorded = options.hidden_states || options.attentions ? &trace : nullptr;

  // Sequence classification and multiple choice read the first token alone.
  const bool first_only = config_.task == Task::kSequenceClassification || choices;
  Output out;
  torch::Tensor first;  // (N, D)
  if (!first_only || options.need_hidden || options.hidden_states) {
    out.last_hidden_state = Encode(ids, mask, {}, recorded);
    if (first_only) first = out.last_hidden_state.select(1, 0);
  } else {
    // The last layer computes no other position.
    first = Encode(ids, mask, torch::arange(N, ids.options().dtype(torch::kInt64)) * T, recorded);
  }
  Head(out.last_hidden_state, first, input_ids.size(0), out);
  if (labels.defined()) out.loss = Loss(out, labels);

  out.layer_outputs = std::move(trace.layer_outputs);
  out.attentions = std::move(trace.attentions);
  for (size_t i = 0; i < out.layer_outputs.size(); ++i) {
    out.hidden_states.push_back(i == 0 ? out.layer_outputs[0] : out.layer_outputs[i] - out.layer_outputs[i - 1]);
  }
  return out;
}

template <typename HeadModule>
torch::Tensor LtgBertImpl::ScoredLoss(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                      const torch::Tensor& labels, HeadModule& head) {
  auto flat_labels = labels.reshape({-1});
  auto scored = flat_labels.ne(-100).nonzero().squeeze(1);  // positions the loss looks at
  // The last layer computes only the scored positions (all of them when none is).
  torch::Tensor rows;
  if (scored.numel() > 0) {
    rows = Encode(input_ids, attention_mask, scored);
  } else {
    auto hidden = Encode(input_ids, attention_mask);
    rows = hidden.reshape({-1, hidden.size(-1)}).index_select(0, scored);
  }
  // The mean over the scored positions: cross_entropy's with ignore_index over all of them.
  return F::cross_entropy(head(rows), flat_labels.index_select(0, scored));
}

torch::Tensor LtgBertImpl::TrainingLoss(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                        const torch::Tensor& labels) {
  switch (config_.task) {
    case Task::kMaskedLM:
      return ScoredLoss(input_ids, attention_mask, labels, mlm_head);
    case Task::kTokenClassification:
      return ScoredLoss(input_ids, attention_mask, labels, mlp_head);
    case Task::kBase:
      Fail(ErrorCode::kInvalidArgument, "trainStep: the bare encoder has no head and so no loss to train on");
    default:
      break;
  }
  ForwardOptions options;
  options.need_hidden = false;
  return forward(input_ids, attention_mask, labels, options).loss;
}

int64_t LtgBertImpl::LossItemCount(const torch::Tensor& labels) const {
  switch (config_.task) {
    case Task::kMaskedLM:
    case Task::kTokenClassification:
      return labels.ne(-100).sum().item<int64_t>();
    default:
      return labels.size(0);
  }
}

torch::Tensor LtgBertImpl::Loss(const Output& out, const torch::Tensor& labels) const {
  const torch::Tensor& logits = out.logits;
  switch (config_.task) {
    case Task::kMaskedLM:
    case Task::kTokenClassification:
      return F::cross_entropy(logits.reshape({-1, logits.size(-1)}), labels.reshape({-1}),
                              F::CrossEntropyFuncOptions().ignore_index(-100));
    case Task::kQuestionAnswering: {
      // As the reference: positions outside [0, T] are clamped into it, and
      // T (one past the last position) is ignored.
      const int64_t ignored = out.start_logits.size(1);
      auto options = F::CrossEntropyFuncOptions().ignore_index(ignored);
      auto start = F::cross_entropy(out.start_logits, labels.select(1, 0).clamp(0, ignored), options);
      auto end = F::cross_entropy(out.end_logits, labels.select(1, 1).clamp(0, ignored), options);
      return (start + end) / 2;
    }
    case Task::kMultipleChoice:
      return F::cross_entropy(logits, labels);
    case Task::kBase:
      return {};
    case Task::kSequenceClassification:
      break;
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

namespace {

// FNV-1a: a stable hash of a parameter's name, so that its initial values
// depend on the seed and the name alone, not on which others are drawn.
uint64_t NameHash(const std::string& name) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// Layer i of "transformer.layers.<i>.mlp.mlp.<1|4>.weight", else -1.
int64_t FeedForwardLayer(const std::string& name) {
  static const std::string kPrefix = "transformer.layers.";
  if (name.rfind(kPrefix, 0) != 0) return -1;
  const size_t dot = name.find('.', kPrefix.size());
  if (dot == std::string::npos) return -1;
  const std::string rest = name.substr(dot);
  if (rest != ".mlp.mlp.1.weight" && rest != ".mlp.mlp.4.weight") return -1;
  return std::stoll(name.substr(kPrefix.size(), dot - kPrefix.size()));
}

}  // namespace

void LtgBertImpl::Initialize(uint64_t seed, const std::set<std::string>* only) {
  torch::NoGradGuard no_grad;
  const double std = std::sqrt(2.0 / (5.0 * config_.hidden_size));
  // Truncated normal by inverse CDF: uniform in the CDF's image of [-2, 2] std.
  const double lo = 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0)));
  const double hi = 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0)));
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    if (only != nullptr && only->count(name) == 0) continue;
    torch::Tensor& p = item.value();
    const bool is_norm = name.find("layer_norm") != std::string::npos;
    if (p.dim() >= 2) {
      auto generator = at::make_generator<at::CPUGeneratorImpl>(seed ^ NameHash(name));
      auto values = torch::empty(p.sizes(), torch::kFloat32);
      values.uniform_(2 * lo - 1, 2 * hi - 1, generator).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2 * std, 2 * std);
      const int64_t layer = FeedForwardLayer(name);
      if (layer >= 0) values.mul_(std::sqrt(1.0 / (2.0 * (layer + 1))));
      p.copy_(values);
    } else if (is_norm && name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) {
      p.fill_(1.0);
    } else {
      p.zero_();
    }
  }
}

}  // namespace ltgbert::model
