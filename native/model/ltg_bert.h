// LTG-BERT with one of its heads: the masked LM, or sequence classification
// with the linear `classifier` or the MLP `head`. Parameter names are the
// reference's state-dict keys.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/dropout.h"
#include "model/embedding.h"
#include "model/encoder.h"
#include "model/heads.h"

namespace ltgbert::model {

struct Output {
  torch::Tensor last_hidden_state;  // (B, T, D)
  torch::Tensor logits;             // (B, T, vocab) or (B, num_labels)
  torch::Tensor loss;               // scalar, undefined without labels
};

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// Every parameter's and buffer's shape by state-dict key, computed from the
// config alone: a checkpoint is checked against it before anything of the
// model's size is allocated. LtgBertImpl's constructor checks that it built
// exactly these, so the two cannot drift apart.
ShapeMap StateShapes(const Config& config);

// State-dict keys that name another parameter (tied weights): alias -> key.
std::map<std::string, std::string> TiedKeys(const Config& config);

class LtgBertImpl : public torch::nn::Module {
 public:
  // For classification, config.classifier_head must be decided (not kAuto).
  explicit LtgBertImpl(const Config& config);

  // input_ids, attention_mask: (B, T) int64, mask 1 = token, 0 = padding.
  // labels: undefined, (B, T) int64 with -100 = not scored for the masked
  // LM, (B) int64 for single-label, (B, num_labels) float for multi-label,
  // (B) or (B, 1) float for regression.
  // Without `need_hidden`, a classifier's last layer computes only the
  // first token past its attention and last_hidden_state stays undefined.
  Output forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, const torch::Tensor& labels = {},
                 bool need_hidden = true);

  // The loss alone, as forward(...).loss gives it, for training. The masked
  // LM runs its head only on the positions that labels score (as LTG-BERT's
  // own pretraining does): the same loss and gradients without the
  // vocabulary projection of the other ~85% of the tokens. Past its
  // attention, the last layer too computes only the positions the loss
  // reads: the scored ones, or a classifier's first token.
  torch::Tensor TrainingLoss(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                             const torch::Tensor& labels);

  // Fills every parameter as the reference initialises it: truncated normal
  // with std sqrt(2 / (5 D)) cut at two std for embeddings and linear
  // weights, zero biases, unit LayerNorm weights, and the feed-forward
  // weights of layer i scaled by sqrt(1 / (2 (i + 1))).
  // Each parameter draws from its own generator, seeded by `seed` and its
  // name, so that initialising only some (`only`: those a checkpoint lacks)
  // gives them the values a full initialisation would.
  void Initialize(uint64_t seed, const std::set<std::string>* only = nullptr);

  std::map<std::string, std::string> TiedKeys() const { return model::TiedKeys(config_); }

  const Config& config() const { return config_; }

  Embedding embedding{nullptr};
  Encoder transformer{nullptr};
  MaskClassifier mlm_head{nullptr};        // "classifier" (masked LM)
  torch::nn::Linear linear_head{nullptr};  // "classifier" (linear classification)
  ClassificationHead mlp_head{nullptr};    // "head" (MLP classification)
  Dropout head_dropout{nullptr};

 private:
  // The encoder's last hidden states (B, T, D), or with `rows` (int64
  // indices into the B*T positions) those positions' alone (N, D).
  torch::Tensor Encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& rows = {});
  torch::Tensor Loss(const torch::Tensor& logits, const torch::Tensor& labels) const;
  // Throws kInternal unless the module holds exactly StateShapes(config_).
  void CheckShapes() const;

  Config config_;
};
TORCH_MODULE(LtgBert);

}  // namespace ltgbert::model
