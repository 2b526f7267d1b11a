// AdamW as torch.optim.AdamW defines it (decoupled weight decay, bias
// correction, eps added after the square root), over a model's parameters
// split into the two groups Hugging Face uses: weight decay on everything
// but biases and LayerNorm parameters.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "kernels/dropout.h"
#include "train/schedule.h"

namespace ltgbert::train {

// The keys of the random state in StateTensors().
inline constexpr const char* kRngStateKey = "rng_state";
inline constexpr const char* kDropoutStreamKey = "dropout_stream";

struct AdamWOptions {
  double learning_rate = 5e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double max_grad_norm = 0.0;  // 0: no clipping
  Schedule schedule;
  uint64_t seed = 42;  // dropout's random stream
};

struct Parameter {
  std::string name;
  torch::Tensor value;
  bool decay = true;
  torch::Tensor exp_avg;     // created at the first step
  torch::Tensor exp_avg_sq;  // created at the first step
};

class AdamW {
 public:
  // `params`: the model's named parameters; `no_decay`: those exempt from
  // weight decay.
  AdamW(std::vector<Parameter> params, const AdamWOptions& options);

  // The learning rate the next step uses.
  double NextLearningRate() const;

  // One update with the parameters' current gradients times grad_scale
  // (undefined gradients are skipped, as PyTorch skips params whose .grad is
  // None), then the gradients are dropped. Returns the learning rate it used.
  double Step(double grad_scale = 1.0);

  int64_t step() const { return step_; }
  const AdamWOptions& options() const { return options_; }
  const std::vector<Parameter>& params() const { return params_; }

  // The random streams of this optimizer's steps, so that a run resumed
  // from a checkpoint draws the same dropout masks: the model's own dropout
  // stream (CPU), and the device generator's state for what else draws.
  kernels::RandomStream& dropout_stream() { return dropout_stream_; }
  torch::Tensor& rng_state() { return rng_state_; }

  // Moments, step count and random state as named tensors, and back. Load
  // checks every name and shape before it changes anything.
  io::TensorList StateTensors() const;
  void LoadStateTensors(const io::TensorList& tensors, const std::string& source);

 private:
  std::vector<Parameter> params_;
  AdamWOptions options_;
  int64_t step_ = 0;
  kernels::RandomStream dropout_stream_;
  torch::Tensor rng_state_;
};

struct ClipResult {
  double norm = 0;         // global 2-norm of the gradients
  double coefficient = 1;  // what clipping multiplies them by
};

// The global 2-norm of the gradients and the factor that
// torch.nn.utils.clip_grad_norm_ would scale them by (max_norm / (norm +
// 1e-6), capped at 1; 1 when max_norm <= 0). The gradients are left as they
// are: AdamW::Step applies the factor in its own pass.
ClipResult ClipGradNorm(const std::vector<Parameter>& params, double max_norm);

}  // namespace ltgbert::train
