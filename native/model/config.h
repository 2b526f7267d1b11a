// The model's sizes and variant switches, as config.json spells them. The
// defaults of the optional keys are written here, once: the TypeScript layer
// reads them (configDefaults() of the addon) to fill config.json, validates
// it, and ParseConfig re-checks what would make libtorch fail in a way that
// is hard to read.
#pragma once

#include <cstdint>
#include <string>

namespace ltgbert::model {

// How the projected relative-position table is cut into query and key halves
// (see DESIGN.md): same keys, different numbers.
enum class PositionSplit { kPerHead, kGlobal };

// Which head sits on the encoder. kBase has none (the bare encoder); the
// token, question-answering and multiple-choice heads are the hub's MLP
// `head` with num_labels, 2 and 1 outputs.
enum class Task {
  kMaskedLM,
  kSequenceClassification,
  kBase,
  kTokenClassification,
  kQuestionAnswering,
  kMultipleChoice,
};

// kAuto: decided from the checkpoint's keys when one is loaded.
enum class ClassifierHead { kAuto, kLinear, kMlp };

enum class ProblemType { kSingleLabel, kMultiLabel, kRegression };

struct Config {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t position_bucket_size = 32;
  double layer_norm_eps = 1e-7;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double classifier_dropout = 0.1;  // absent from config.json: hidden_dropout_prob
  PositionSplit position_qk_split = PositionSplit::kPerHead;

  Task task = Task::kMaskedLM;
  int64_t num_labels = 2;
  ClassifierHead classifier_head = ClassifierHead::kAuto;
  ProblemType problem_type = ProblemType::kSingleLabel;

  int64_t head_size() const { return hidden_size / num_attention_heads; }
  // Outputs of the MLP `head` per position it reads: num_labels, except
  // question answering (start and end) and multiple choice (one score).
  int64_t head_outputs() const {
    if (task == Task::kQuestionAnswering) return 2;
    if (task == Task::kMultipleChoice) return 1;
    return num_labels;
  }
};

// Parses the JSON object the TypeScript layer sends (config.json's snake_case
// keys plus "task"). Throws ltgbert::Error(kBadConfig) naming the key.
Config ParseConfig(const std::string& json_text);

// The names config.json uses for each value.
const char* PositionSplitName(PositionSplit split);
const char* TaskName(Task task);
const char* ProblemTypeName(ProblemType problem);
const char* ClassifierHeadName(ClassifierHead head);

}  // namespace ltgbert::model
