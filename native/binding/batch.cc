#include "binding/batch.h"

#include "binding/convert.h"
#include "common/error.h"
#include "io/state_dict.h"

namespace ltgbert::binding {

Batch ReadBatch(Napi::Env env, const Napi::Object& args) {
  auto shape = RequireShape(env, args.Get("shape"), "shape");
  if (shape.size() != 2 && shape.size() != 3)
    ThrowArgument(env, "inputIds: expected shape [B, T] ([B, C, T] for multiple choice)");
  Batch batch;
  batch.input_ids = CopyToTensor(env, args.Get("inputIds"), shape, "inputIds");
  batch.attention_mask = CopyToTensor(env, args.Get("attentionMask"), shape, "attentionMask");
  if (args.Has("labels") && !args.Get("labels").IsUndefined() && !args.Get("labels").IsNull()) {
    batch.labels =
        CopyToTensor(env, args.Get("labels"), RequireShape(env, args.Get("labelsShape"), "labelsShape"), "labels");
  }
  return batch;
}

namespace {

// labels (B, T) of class ids below `classes`, or -100 where nothing is scored.
void CheckPositionLabels(const torch::Tensor& ids, const torch::Tensor& labels, int64_t classes, const char* what) {
  if (labels.sizes() != ids.sizes()) {
    Fail(ErrorCode::kInvalidArgument, "labels: expected shape ", io::ShapeString(ids.sizes().vec()), ", got ",
         io::ShapeString(labels.sizes().vec()));
  }
  auto bad = (labels.ne(-100) & (labels.lt(0) | labels.ge(classes))).nonzero();
  if (bad.size(0) > 0) {
    Fail(ErrorCode::kInvalidArgument, "labels: expected -100 or ", what, " in [0, ", classes, "), got ",
         labels.index({bad[0][0], bad[0][1]}).item<int64_t>(), " at [", bad[0][0].item<int64_t>(), ", ",
         bad[0][1].item<int64_t>(), "]");
  }
}

// labels (B) of class ids below `classes`.
void CheckClassLabels(const torch::Tensor& labels, int64_t B, int64_t classes, const char* what) {
  if (labels.dim() != 1 || labels.size(0) != B) {
    Fail(ErrorCode::kInvalidArgument, "labels: expected shape [", B, "], got ", io::ShapeString(labels.sizes().vec()));
  }
  auto bad = (labels.lt(0) | labels.ge(classes)).nonzero();
  if (bad.size(0) > 0) {
    Fail(ErrorCode::kInvalidArgument, "labels: expected ", what, " in [0, ", classes, "), got ",
         labels[bad[0][0]].item<int64_t>(), " at index ", bad[0][0].item<int64_t>());
  }
}

}  // namespace

void CheckInputs(const model::Config& c, const torch::Tensor& ids, const torch::Tensor& mask,
                 const torch::Tensor& labels) {
  const bool choices = c.task == model::Task::kMultipleChoice;
  if (choices && ids.dim() != 3) {
    Fail(ErrorCode::kInvalidArgument, "inputIds: expected shape [B, C, T] (batch, choices, tokens), got ",
         io::ShapeString(ids.sizes().vec()));
  }
  if (!choices && ids.dim() != 2) {
    Fail(ErrorCode::kInvalidArgument, "inputIds: expected shape [B, T], got ", io::ShapeString(ids.sizes().vec()));
  }
  const int64_t B = ids.size(0), T = ids.size(-1);
  if (ids.numel() == 0) {
    Fail(ErrorCode::kInvalidArgument, "inputIds: expected a non-empty batch, got ", io::ShapeString(ids.sizes().vec()));
  }
  if (T > c.max_position_embeddings) {
    Fail(ErrorCode::kInvalidArgument, "inputIds: sequence length ", T, " exceeds max_position_embeddings (",
         c.max_position_embeddings, ")");
  }
  auto [lo, hi] = torch::aminmax(ids);
  if (lo.item<int64_t>() < 0 || hi.item<int64_t>() >= c.vocab_size) {
    Fail(ErrorCode::kInvalidArgument, "inputIds: ids must lie in [0, ", c.vocab_size, "), got values from ",
         lo.item<int64_t>(), " to ", hi.item<int64_t>());
  }
  if (mask.sizes() != ids.sizes()) {
    Fail(ErrorCode::kInvalidArgument, "attentionMask: expected shape ", io::ShapeString(ids.sizes().vec()), ", got ",
         io::ShapeString(mask.sizes().vec()));
  }
  if (!labels.defined()) return;
  switch (c.task) {
    case model::Task::kMaskedLM:
      return CheckPositionLabels(ids, labels, c.vocab_size, "an id");
    case model::Task::kTokenClassification:
      return CheckPositionLabels(ids, labels, c.num_labels, "a label");
    case model::Task::kMultipleChoice:
      return CheckClassLabels(labels, B, ids.size(1), "a choice");
    case model::Task::kBase:
      Fail(ErrorCode::kInvalidArgument, "labels: the bare encoder has no head and takes no labels");
    case model::Task::kQuestionAnswering:
      // Positions outside [0, T) are valid: clamped and ignored, as the reference does.
      if (labels.dim() != 2 || labels.size(0) != B || labels.size(1) != 2) {
        Fail(ErrorCode::kInvalidArgument, "startPositions, endPositions: expected ", B,
             " of each, got labels of shape ", io::ShapeString(labels.sizes().vec()));
      }
      return;
    case model::Task::kSequenceClassification:
      break;
  }
  if (c.problem_type == model::ProblemType::kSingleLabel) {
    CheckClassLabels(labels, B, c.num_labels, "a label");
  } else if (labels.size(0) != B) {
    Fail(ErrorCode::kInvalidArgument, "labels: expected ", B, " rows, got ", io::ShapeString(labels.sizes().vec()));
  }
}

}  // namespace ltgbert::binding
