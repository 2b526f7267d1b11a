#include "model/config.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace ltgbert::model {
namespace {

using nlohmann::json;

int64_t PositiveInt(const json& j, const char* key, bool required, int64_t fallback) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) Fail(ErrorCode::kBadConfig, "config: ", key, ": required, got nothing");
    return fallback;
  }
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
    Fail(ErrorCode::kBadConfig, "config: ", key, ": expected a positive integer, got ", v.dump());
  }
  return v.get<int64_t>();
}

double Probability(const json& j, const char* key, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (!v.is_number() || v.get<double>() < 0 || v.get<double>() >= 1) {
    Fail(ErrorCode::kBadConfig, "config: ", key, ": expected a number in [0, 1), got ", v.dump());
  }
  return v.get<double>();
}

std::string Word(const json& j, const char* key, const char* fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string()) {
    Fail(ErrorCode::kBadConfig, "config: ", key, ": expected a string, got ", j[key].dump());
  }
  return j[key].get<std::string>();
}

}  // namespace

Config ParseConfig(const std::string& json_text) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    Fail(ErrorCode::kBadConfig, "config: not valid JSON: ", e.what());
  }
  if (!j.is_object()) Fail(ErrorCode::kBadConfig, "config: expected a JSON object");

  // Optional keys take the defaults written once, in Config's members (the
  // TypeScript layer reads them from here through configDefaults()).
  const Config d;
  Config c;
  c.vocab_size = PositiveInt(j, "vocab_size", true, 0);
  c.hidden_size = PositiveInt(j, "hidden_size", true, 0);
  c.num_hidden_layers = PositiveInt(j, "num_hidden_layers", true, 0);
  c.num_attention_heads = PositiveInt(j, "num_attention_heads", true, 0);
  c.intermediate_size = PositiveInt(j, "intermediate_size", true, 0);
  c.max_position_embeddings = PositiveInt(j, "max_position_embeddings", false, d.max_position_embeddings);
  c.position_bucket_size = PositiveInt(j, "position_bucket_size", false, d.position_bucket_size);
  c.num_labels = PositiveInt(j, "num_labels", false, d.num_labels);
  c.hidden_dropout_prob = Probability(j, "hidden_dropout_prob", d.hidden_dropout_prob);
  c.attention_probs_dropout_prob = Probability(j, "attention_probs_dropout_prob", d.attention_probs_dropout_prob);
  c.classifier_dropout = Probability(j, "classifier_dropout", c.hidden_dropout_prob);

  if (j.contains("layer_norm_eps") && !j["layer_norm_eps"].is_null()) {
    const json& eps = j["layer_norm_eps"];
    if (!eps.is_number() || eps.get<double>() <= 0) {
      Fail(ErrorCode::kBadConfig, "config: layer_norm_eps: expected a positive number, got ", eps.dump());
    }
    c.layer_norm_eps = eps.get<double>();
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    Fail(ErrorCode::kBadConfig, "config: hidden_size: expected a multiple of num_attention_heads (",
         c.num_attention_heads, "), got ", c.hidden_size);
  }
  if (c.position_bucket_size < 2) {
    Fail(ErrorCode::kBadConfig, "config: position_bucket_size: expected at least 2, got ", c.position_bucket_size);
  }

  const std::string split = Word(j, "position_qk_split", PositionSplitName(d.position_qk_split));
  if (split == "per_head") {
    c.position_qk_split = PositionSplit::kPerHead;
  } else if (split == "global") {
    c.position_qk_split = PositionSplit::kGlobal;
  } else {
    Fail(ErrorCode::kBadConfig, "config: position_qk_split: expected \"per_head\" or \"global\", got \"", split, "\"");
  }

  const std::string task = Word(j, "task", TaskName(d.task));
  bool known = false;
  for (Task t : {Task::kMaskedLM, Task::kSequenceClassification, Task::kBase, Task::kTokenClassification,
                 Task::kQuestionAnswering, Task::kMultipleChoice}) {
    if (task == TaskName(t)) {
      c.task = t;
      known = true;
    }
  }
  if (!known) {
    Fail(ErrorCode::kBadConfig,
         "config: task: expected \"masked_lm\", \"sequence_classification\", \"base\", \"token_classification\", "
         "\"question_answering\" or \"multiple_choice\", got \"",
         task, "\"");
  }

  const std::string head = Word(j, "classifier_head", ClassifierHeadName(d.classifier_head));
  if (head == "auto") {
    c.classifier_head = ClassifierHead::kAuto;
  } else if (head == "linear") {
    c.classifier_head = ClassifierHead::kLinear;
  } else if (head == "mlp") {
    c.classifier_head = ClassifierHead::kMlp;
  } else {
    Fail(ErrorCode::kBadConfig, "config: classifier_head: expected \"linear\" or \"mlp\", got \"", head, "\"");
  }

  const std::string problem = Word(j, "problem_type", ProblemTypeName(d.problem_type));
  if (problem == "single_label_classification") {
    c.problem_type = ProblemType::kSingleLabel;
  } else if (problem == "multi_label_classification") {
    c.problem_type = ProblemType::kMultiLabel;
  } else if (problem == "regression") {
    c.problem_type = ProblemType::kRegression;
  } else {
    Fail(ErrorCode::kBadConfig,
         "config: problem_type: expected \"single_label_classification\", "
         "\"multi_label_classification\" or \"regression\", got \"",
         problem, "\"");
  }
  return c;
}

const char* PositionSplitName(PositionSplit split) { return split == PositionSplit::kGlobal ? "global" : "per_head"; }

const char* TaskName(Task task) {
  switch (task) {
    case Task::kSequenceClassification:
      return "sequence_classification";
    case Task::kBase:
      return "base";
    case Task::kTokenClassification:
      return "token_classification";
    case Task::kQuestionAnswering:
      return "question_answering";
    case Task::kMultipleChoice:
      return "multiple_choice";
    case Task::kMaskedLM:
      break;
  }
  return "masked_lm";
}

const char* ProblemTypeName(ProblemType problem) {
  switch (problem) {
    case ProblemType::kMultiLabel:
      return "multi_label_classification";
    case ProblemType::kRegression:
      return "regression";
    case ProblemType::kSingleLabel:
      break;
  }
  return "single_label_classification";
}

const char* ClassifierHeadName(ClassifierHead head) {
  switch (head) {
    case ClassifierHead::kLinear:
      return "linear";
    case ClassifierHead::kMlp:
      return "mlp";
    case ClassifierHead::kAuto:
      return "auto";
  }
  return "auto";
}

}  // namespace ltgbert::model
