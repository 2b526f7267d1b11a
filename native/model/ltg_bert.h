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

// What forward computes besides the logits, each off unless asked for.
struct ForwardOptions {
  // last_hidden_state; without it a sequence classifier's or a multiple
  // choice model's last layer computes only the first token of each row.
  bool need_hidden = true;
  bool hidden_states = false;  // layer_outputs and hidden_states
  bool attentions = false;
};

// Multiple choice runs on its B*C rows (each choice a row of the encoder):
// its per-position outputs are (B*C, T, ...), as Hugging Face's.
struct Output {
  torch::Tensor last_hidden_state;  // (B, T, D)
  // (B, T, vocab) masked LM, (B, num_labels) sequence classification,
  // (B, T, num_labels) token classification, (B, T, 2) question answering,
  // (B, C) multiple choice; undefined for the bare encoder.
  torch::Tensor logits;
  torch::Tensor start_logits;  // question answering: (B, T)
  torch::Tensor end_logits;    // question answering: (B, T)
  torch::Tensor loss;          // scalar, undefined without labels
  // The embedding's output, then each layer's (L + 1 tensors (B, T, D)).
  std::vector<torch::Tensor> layer_outputs;
  // What the reference's output_hidden_states gives: layer_outputs[0], then
  // each layer's output minus the previous one's.
  std::vector<torch::Tensor> hidden_states;
  // Each layer's attention probabilities (B, H, T, T), before dropout.
  std::vector<torch::Tensor> attentions;
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

  // input_ids, attention_mask: (B, T) int64, mask 1 = token, 0 = padding;
  // (B, C, T) for multiple choice. labels: undefined, or as the task takes
  // them: (B, T) int64 with -100 = not scored for the masked LM and token
  // classification; (B) int64 for single-label classification and multiple
  // choice, (B, num_labels) float for multi-label, (B) or (B, 1) float for
  // regression; (B, 2) int64 start and end positions for question
  // answering (clamped to [0, T], T being ignored, as the reference does).
  Output forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, const torch::Tensor& labels = {},
                 const ForwardOptions& options = {});

  // The loss alone, as forward(...).loss gives it, for training. The masked
  // LM and token classification run their head only on the positions that
  // labels score (as LTG-BERT's own pretraining does): the same loss and
  // gradients without the vocabulary projection of the other ~85% of the
  // tokens. Past its attention, the last layer too computes only the
  // positions the loss reads: the scored ones, or the first token of each
  // row for sequence classification and multiple choice.
  torch::Tensor TrainingLoss(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                             const torch::Tensor& labels);

  // How many items the loss of these labels is the mean over: the scored
  // positions for the masked LM and token classification, the examples for
  // the other heads. Accumulated and data-parallel steps weight each
  // micro-batch's mean by it, so that their loss is the mean over the whole
  // global batch, as one batch of all of it would give.
  int64_t LossItemCount(const torch::Tensor& labels) const;

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
  ClassificationHead mlp_head{nullptr};    // "head" (the MLP heads); none for the bare encoder
  Dropout head_dropout{nullptr};

 private:
  // The encoder's last hidden states (B, T, D), or with `rows` (int64
  // indices into the B*T positions) those positions' alone (N, D).
  torch::Tensor Encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& rows = {}, Trace* trace = nullptr);
  // The head's output on `hidden` (B, T, D) or on the first tokens `first`
  // (N, D), as the task reads them; sets out.logits (and QA's start/end).
  void Head(const torch::Tensor& hidden, const torch::Tensor& first, int64_t batch, Output& out);
  torch::Tensor Loss(const Output& out, const torch::Tensor& labels) const;
  // The mean cross-entropy over the positions that labels (-100 = none)
  // score, computing the last layer and `head` on those alone.
  template <typename HeadModule>
  torch::Tensor ScoredLoss(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                           const torch::Tensor& labels, HeadModule& head);
  // Throws kInternal unless the module holds exactly StateShapes(config_).
  void CheckShapes() const;

  Config config_;
};
TORCH_MODULE(LtgBert);

}  // namespace ltgbert::model
