#include "train/train_step.h"

#include <ATen/Context.h>
#include <ATen/record_function.h>

#include <chrono>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/profile.h"

namespace ltgbert::train {
namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Swaps a random state into the device's default generator for the
// lifetime of the object, and keeps what it became.
class RngSwap {
 public:
  RngSwap(const torch::Device& device, torch::Tensor* state)
      : generator_(at::globalContext().defaultGenerator(device)), state_(state) {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    saved_ = generator_.get_state();
    generator_.set_state(*state_);
  }
  ~RngSwap() {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    *state_ = generator_.get_state();
    generator_.set_state(saved_);
  }
  RngSwap(const RngSwap&) = delete;
  RngSwap& operator=(const RngSwap&) = delete;

 private:
  at::Generator generator_;
  torch::Tensor* state_;
  torch::Tensor saved_;
};

// Training mode for the lifetime of the object, eval mode after.
class TrainMode {
 public:
  explicit TrainMode(torch::nn::Module& module) : module_(module) { module_.train(true); }
  ~TrainMode() { module_.train(false); }
  TrainMode(const TrainMode&) = delete;
  TrainMode& operator=(const TrainMode&) = delete;

 private:
  torch::nn::Module& module_;
};

}  // namespace

std::vector<Parameter> TrainableParameters(model::LtgBertImpl& module) {
  std::vector<Parameter> out;
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const bool layer_norm = item.value()->as<torch::nn::LayerNorm>() != nullptr;
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      if (!p.value().requires_grad()) continue;
      out.push_back({prefix + p.key(), p.value(), !layer_norm && !EndsWith(p.key(), "bias")});
    }
  }
  return out;
}

torch::Tensor SeededRngState(const torch::Device& device, uint64_t seed) {
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  torch::Tensor saved = generator.get_state();
  generator.set_current_seed(seed);
  torch::Tensor seeded = generator.get_state();
  generator.set_state(saved);
  return seeded;
}

StepResult TrainStep(model::LtgBertImpl& module, const std::vector<Batch>& batches, AdamW& optimizer,
                     const torch::Device& device, DataParallel* data_parallel) {
  if (batches.empty()) Fail(ErrorCode::kInvalidArgument, "trainStep: expected at least one batch");
  auto profile = MaybeProfile();
  for (const auto& p : optimizer.params()) p.value.mutable_grad() = torch::Tensor();
  if (data_parallel != nullptr) data_parallel->Start(optimizer.params());

  // Each micro-batch's mean loss counts by its share of the items (scored
  // tokens, or examples) of the global batch: every micro-batch of every
  // rank. ReduceGradients averages over the ranks, hence `world`.
  std::vector<double> counts;
  double local_items = 0;
  for (const auto& batch : batches) {
    counts.push_back(static_cast<double>(module.LossItemCount(batch.labels)));
    local_items += counts.back();
  }
  const double world = data_parallel != nullptr ? data_parallel->world_size() : 1;
  using Clock = std::chrono::steady_clock;
  double communication = 0;
  auto timed = [&communication](auto&& body) {
    const auto t0 = Clock::now();
    auto value = body();
    communication += std::chrono::duration<double>(Clock::now() - t0).count();
    return value;
  };
  const double items =
      data_parallel != nullptr
          ? timed([&]() { return data_parallel->SumOverRanks(local_items, "summing the step's items"); })
          : local_items;

  StepResult result;
  double local_loss = 0;
  {
    torch::AutoGradMode grad_mode(true);
    TrainMode train_mode(module);
    RngSwap rng(device, &optimizer.rng_state());
    kernels::ScopedRandomStream stream(&optimizer.dropout_stream());
    for (size_t i = 0; i < batches.size(); ++i) {
      const auto& batch = batches[i];
      const double share = items > 0 ? counts[i] / items : 1.0 / (static_cast<double>(batches.size()) * world);
      auto loss =
          module.TrainingLoss(batch.input_ids.to(device), batch.attention_mask.to(device), batch.labels.to(device));
      if (data_parallel != nullptr && i + 1 == batches.size()) data_parallel->BeforeLastBackward();
      (loss * (share * world)).backward();
      local_loss += loss.item<double>() * share;
    }
  }
  if (data_parallel != nullptr) {
    timed([&]() {
      data_parallel->ReduceGradients();
      return 0;
    });
  }
  result.loss = data_parallel != nullptr
                    ? timed([&]() { return data_parallel->SumOverRanks(local_loss, "summing the step's loss"); })
                    : local_loss;
  result.communication_seconds = communication;
  RECORD_FUNCTION("ltgbert::clip_and_adamw", std::vector<c10::IValue>());
  const ClipResult clip = ClipGradNorm(optimizer.params(), optimizer.options().max_grad_norm);
  result.grad_norm = clip.norm;
  result.learning_rate = optimizer.Step(clip.coefficient);
  result.step = optimizer.step();
  if (data_parallel != nullptr) data_parallel->AfterStep(optimizer.params(), result.step);
  return result;
}

}  // namespace ltgbert::train
