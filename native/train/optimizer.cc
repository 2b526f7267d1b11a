#include "train/optimizer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <map>

#include "common/error.h"
#include "io/state_dict.h"

namespace ltgbert::train {
namespace {

constexpr const char* kStepKey = "step";
constexpr const char* kRngKey = kRngStateKey;
constexpr const char* kStreamKey = kDropoutStreamKey;
constexpr const char* kExpAvg = "exp_avg.";
constexpr const char* kExpAvgSq = "exp_avg_sq.";

// AdamW over n floats in one pass, in the order and precision of PyTorch's
// single-tensor AdamW: every scalar is rounded to float as the tensor ops
// round it. The gradient is first scaled by grad_scale (the clipping
// coefficient), as clip_grad_norm_ would have scaled it in place. Cloned
// for AVX-512 and AVX2 so that the square root and division vectorise.
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3"))) void AdamWKernel(
    float* __restrict param, float* __restrict m, float* __restrict v, const float* __restrict g, int64_t n,
    float grad_scale, float decay_factor, float beta1, float beta2, float one_minus_beta1, float one_minus_beta2,
    float bias2_sqrt, float eps, float step_size) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * grad_scale;
    const float mi = m[i] * beta1 + one_minus_beta1 * gi;
    const float vi = v[i] * beta2 + one_minus_beta2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const float denom = __builtin_sqrtf(vi) / bias2_sqrt + eps;
    param[i] = param[i] * decay_factor - step_size * (mi / denom);
  }
}

void FusedUpdate(Parameter& p, const torch::Tensor& grad, float grad_scale, float decay_factor, float beta1,
                 float beta2, float one_minus_beta1, float one_minus_beta2, float bias2_sqrt, float eps,
                 float step_size) {
  float* param = p.value.data_ptr<float>();
  float* m = p.exp_avg.data_ptr<float>();
  float* v = p.exp_avg_sq.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  at::parallel_for(0, p.value.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    AdamWKernel(param + begin, m + begin, v + begin, g + begin, end - begin, grad_scale, decay_factor, beta1, beta2,
                one_minus_beta1, one_minus_beta2, bias2_sqrt, eps, step_size);
  });
  // Written through its pointer, not by a torch op: say that it changed, as
  // an in-place op would (inference's reordered copies of weights check it).
  p.value.unsafeGetTensorImpl()->bump_version();
}

bool Fusable(const Parameter& p, const torch::Tensor& grad) {
  return p.value.is_cpu() && p.value.scalar_type() == torch::kFloat32 && p.value.is_contiguous() &&
         grad.scalar_type() == torch::kFloat32 && grad.is_contiguous() && !grad.is_sparse();
}

}  // namespace

AdamW::AdamW(std::vector<Parameter> params, const AdamWOptions& options)
    : params_(std::move(params)), options_(options) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  rng_state_ = generator.get_state();
  dropout_stream_.seed = options.seed;
}

double AdamW::NextLearningRate() const { return options_.learning_rate * LearningRateFactor(options_.schedule, step_); }

double AdamW::Step(double grad_scale) {
  torch::NoGradGuard no_grad;
  const double lr = NextLearningRate();
  ++step_;
  const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  for (auto& p : params_) {
    torch::Tensor grad = p.value.grad();
    if (!grad.defined()) continue;
    if (!p.exp_avg.defined()) {
      p.exp_avg = torch::zeros_like(p.value, torch::MemoryFormat::Preserve);
      p.exp_avg_sq = torch::zeros_like(p.value, torch::MemoryFormat::Preserve);
    }
    const double decay = p.decay ? options_.weight_decay : 0.0;
    if (Fusable(p, grad) && p.exp_avg.is_contiguous()) {
      FusedUpdate(p, grad, static_cast<float>(grad_scale), static_cast<float>(1.0 - lr * decay),
                  static_cast<float>(options_.beta1), static_cast<float>(options_.beta2),
                  static_cast<float>(1.0 - options_.beta1), static_cast<float>(1.0 - options_.beta2),
                  static_cast<float>(bias2_sqrt), static_cast<float>(options_.eps), static_cast<float>(step_size));
    } else {
      if (grad_scale != 1.0) grad = grad * static_cast<float>(grad_scale);
      p.value.mul_(1.0 - lr * decay);
      p.exp_avg.mul_(options_.beta1).add_(grad, 1.0 - options_.beta1);
      p.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
      auto denom = (p.exp_avg_sq.sqrt() / bias2_sqrt).add_(options_.eps);
      p.value.addcdiv_(p.exp_avg, denom, -step_size);
    }
  }
  for (auto& p : params_) p.value.mutable_grad() = torch::Tensor();
  return lr;
}

io::TensorList AdamW::StateTensors() const {
  io::TensorList out;
  out.push_back({kStepKey, torch::tensor({step_}, torch::kInt64)});
  out.push_back({kRngKey, rng_state_});
  out.push_back({kStreamKey, torch::tensor({static_cast<int64_t>(dropout_stream_.seed),
                                            static_cast<int64_t>(dropout_stream_.offset)},
                                           torch::kInt64)});
  for (const auto& p : params_) {
    // Moments not created yet (no step, or a parameter without gradient)
    // are zeros, as they would be at their first update.
    out.push_back({kExpAvg + p.name, p.exp_avg.defined() ? p.exp_avg : torch::zeros_like(p.value)});
    out.push_back({kExpAvgSq + p.name, p.exp_avg_sq.defined() ? p.exp_avg_sq : torch::zeros_like(p.value)});
  }
  return out;
}

void AdamW::LoadStateTensors(const io::TensorList& tensors, const std::string& source) {
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& t : tensors) by_name[t.name] = t.tensor;
  auto require = [&](const std::string& key) -> const torch::Tensor& {
    auto it = by_name.find(key);
    if (it == by_name.end()) Fail(ErrorCode::kMissingKeys, source, ": ", key, ": missing from the optimizer state");
    return it->second;
  };
  const torch::Tensor& step = require(kStepKey);
  if (step.numel() != 1 || step.scalar_type() != torch::kInt64 || step.item<int64_t>() < 0) {
    Fail(ErrorCode::kBadCheckpoint, source, ": ", kStepKey, ": expected one non-negative int64");
  }
  const torch::Tensor& rng = require(kRngKey);
  if (rng.scalar_type() != torch::kUInt8 || rng.sizes() != rng_state_.sizes()) {
    Fail(ErrorCode::kBadCheckpoint, source, ": ", kRngKey, ": expected uint8 ",
         io::ShapeString(rng_state_.sizes().vec()), ", got ", io::ShapeString(rng.sizes().vec()));
  }
  const torch::Tensor& stream = require(kStreamKey);
  if (stream.scalar_type() != torch::kInt64 || stream.numel() != 2) {
    Fail(ErrorCode::kBadCheckpoint, source, ": ", kStreamKey, ": expected int64 [2], got ",
         io::ShapeString(stream.sizes().vec()));
  }
  for (const auto& p : params_) {
    for (const char* prefix : {kExpAvg, kExpAvgSq}) {
      const std::string key = prefix + p.name;
      const torch::Tensor& t = require(key);
      if (t.sizes() != p.value.sizes()) {
        Fail(ErrorCode::kShapeMismatch, source, ": ", key, ": expected ", io::ShapeString(p.value.sizes().vec()),
             ", got ", io::ShapeString(t.sizes().vec()));
      }
    }
  }
  const size_t expected = 3 + 2 * params_.size();
  if (by_name.size() != expected) {
    for (const auto& [name, tensor] : by_name) {
      bool known = name == kStepKey || name == kRngKey || name == kStreamKey;
      for (const auto& p : params_) known = known || name == kExpAvg + p.name || name == kExpAvgSq + p.name;
      if (!known) Fail(ErrorCode::kBadCheckpoint, source, ": ", name, ": not a state of this model's optimizer");
    }
  }
  // Every check passed: nothing below can fail on the input.
  torch::NoGradGuard no_grad;
  step_ = step.item<int64_t>();
  rng_state_ = rng.clone();
  auto stream_values = stream.contiguous();
  dropout_stream_.seed = static_cast<uint64_t>(stream_values[0].item<int64_t>());
  dropout_stream_.offset = static_cast<uint64_t>(stream_values[1].item<int64_t>());
  for (auto& p : params_) {
    p.exp_avg = by_name[kExpAvg + p.name].to(p.value.device(), p.value.scalar_type()).clone().contiguous();
    p.exp_avg_sq = by_name[kExpAvgSq + p.name].to(p.value.device(), p.value.scalar_type()).clone().contiguous();
  }
}

ClipResult ClipGradNorm(const std::vector<Parameter>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    const torch::Tensor& grad = p.value.grad();
    if (grad.defined()) norms.push_back(grad.norm(2));
  }
  ClipResult result;
  if (norms.empty()) return result;
  torch::Tensor total = torch::stack(norms).norm(2);
  result.norm = total.item<double>();
  if (max_norm > 0) {
    // As clip_grad_norm_ computes it: in float, on the norm's tensor.
    result.coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0).item<double>();
  }
  return result;
}

}  // namespace ltgbert::train
