// A batch of token ids as JS hands it over ({ inputIds, attentionMask,
// shape, labels?, labelsShape? }), and its checks against a model.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include "model/config.h"
#include "train/train_step.h"

namespace ltgbert::binding {

using train::Batch;

// Copies the typed arrays into CPU tensors (int64 ids and mask).
Batch ReadBatch(Napi::Env env, const Napi::Object& args);

// Checks ids, mask and labels against the model before any tensor math:
// LTGBERT_INVALID_ARGUMENT naming the input and the values at fault.
void CheckInputs(const model::Config& c, const torch::Tensor& ids, const torch::Tensor& mask,
                 const torch::Tensor& labels);

}  // namespace ltgbert::binding
