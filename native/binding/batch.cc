#include "binding/batch.h"

#include "binding/convert.h"
#include "common/error.h"
#include "io/state_dict.h"

namespace ltgbert::binding {

Batch ReadBatch(Napi::Env env, const Napi::Object& args) {
  auto shape = RequireShape(env, args.Get("shape"), "shape");
  if (shape.size() != 2) ThrowArgument(env, "inputIds: expected shape [B, T]");
  Batch batch;
  batch.input_ids = CopyToTensor(env, args.Get("inputIds"), shape, "inputIds");
  batch.attention_mask = CopyToTensor(env, args.Get("attentionMask"), shape, "attentionMask");
  if (args.Has("labels") && !args.Get("labels").IsUndefined() && !args.Get("labels").IsNull()) {
    batch.labels =
        CopyToTensor(env, args.Get("labels"), RequireShape(env, args.Get("labelsShape"), "labelsShape"), "labels");
  }
  return batch;
}

void CheckInputs(const model::Config& c, const torch::Tensor& ids, const torch::Tensor& mask,
                 const torch::Tensor& labels) {
  const int64_t B = ids.size(0), T = ids.size(1);
  if (B == 0 || T == 0)
    Fail(ErrorCode::kInvalidArgument, "inputIds: expected a non-empty [B, T] batch, got [", B, ", ", T, "]");
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
  if (c.task == model::Task::kMaskedLM) {
    if (labels.sizes() != ids.sizes()) {
      Fail(ErrorCode::kInvalidArgument, "labels: expected shape ", io::ShapeString(ids.sizes().vec()), ", got ",
           io::ShapeString(labels.sizes().vec()));
    }
    auto bad = (labels.ne(-100) & (labels.lt(0) | labels.ge(c.vocab_size))).nonzero();
    if (bad.size(0) > 0) {
      Fail(ErrorCode::kInvalidArgument, "labels: expected -100 or an id in [0, ", c.vocab_size, "), got ",
           labels.index({bad[0][0], bad[0][1]}).item<int64_t>(), " at [", bad[0][0].item<int64_t>(), ", ",
           bad[0][1].item<int64_t>(), "]");
    }
    return;
  }
  if (c.problem_type == model::ProblemType::kSingleLabel) {
    if (labels.dim() != 1 || labels.size(0) != B) {
      Fail(ErrorCode::kInvalidArgument, "labels: expected shape [", B, "], got ",
           io::ShapeString(labels.sizes().vec()));
    }
    auto bad = (labels.lt(0) | labels.ge(c.num_labels)).nonzero();
    if (bad.size(0) > 0) {
      Fail(ErrorCode::kInvalidArgument, "labels: expected a label in [0, ", c.num_labels, "), got ",
           labels[bad[0][0]].item<int64_t>(), " at index ", bad[0][0].item<int64_t>());
    }
  } else if (labels.size(0) != B) {
    Fail(ErrorCode::kInvalidArgument, "labels: expected ", B, " rows, got ", io::ShapeString(labels.sizes().vec()));
  }
}

}  // namespace ltgbert::binding
