// One optimizer step of an LTG-BERT model: forward with dropout, loss,
// backward over one or more micro-batches (gradient accumulation), clipping
// by global norm, AdamW. Gradients and weights stay in libtorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/ltg_bert.h"
#include "train/distributed.h"
#include "train/optimizer.h"

namespace ltgbert::train {

struct Batch {
  torch::Tensor input_ids;       // (B, T) int64
  torch::Tensor attention_mask;  // (B, T) int64
  torch::Tensor labels;          // as LtgBertImpl::forward takes them
};

struct StepResult {
  double loss = 0;                   // mean loss over the global batch's items (see LossItemCount)
  double grad_norm = 0;              // global 2-norm before clipping
  double learning_rate = 0;          // the rate this step used
  int64_t step = 0;                  // optimizer steps taken, this one included
  double communication_seconds = 0;  // data parallelism: time waiting on collectives (item counts, loss,
                                     // the gradients' all-reduce after backward)
};

// The model's parameters with Hugging Face's weight-decay rule: no decay
// for biases and for the parameters of LayerNorm modules.
std::vector<Parameter> TrainableParameters(model::LtgBertImpl& module);

// The state of `device`'s default generator after seeding it with `seed`,
// leaving the generator itself as it was.
torch::Tensor SeededRngState(const torch::Device& device, uint64_t seed);

// Runs the step on `device`, where the model lives. Each micro-batch's mean
// loss is weighted by its share of the items of the whole step (the scored
// tokens of the masked LM and token classification, the examples of the
// other heads) before backward, so that accumulation and data parallelism
// give the gradient of one batch of all of it; micro-batches of equal size
// get 1 / batches.size(), as Hugging Face's Trainer scales them. With
// `data_parallel`, the other ranks' micro-batches count too and the
// gradients are averaged over the ranks during the last backward pass.
// Dropout draws from the optimizer's own random state, which the step
// advances; the model is back in eval mode afterwards.
StepResult TrainStep(model::LtgBertImpl& module, const std::vector<Batch>& batches, AdamW& optimizer,
                     const torch::Device& device, DataParallel* data_parallel = nullptr);

}  // namespace ltgbert::train
