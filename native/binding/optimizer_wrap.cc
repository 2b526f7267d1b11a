#include "binding/optimizer_wrap.h"

#include <iomanip>
#include <sstream>
#include <string>

#include "binding/batch.h"
#include "binding/class_refs.h"
#include "binding/convert.h"
#include "binding/group_wrap.h"
#include "binding/task.h"
#include "common/error.h"
#include "io/checkpoint.h"
#include "train/train_step.h"

namespace ltgbert::binding {
namespace {

train::AdamWOptions ReadOptions(const Napi::Object& o) {
  train::AdamWOptions options;
  options.learning_rate = OptionalNumber(o, "learningRate", options.learning_rate);
  options.beta1 = OptionalNumber(o, "beta1", options.beta1);
  options.beta2 = OptionalNumber(o, "beta2", options.beta2);
  options.eps = OptionalNumber(o, "eps", options.eps);
  options.weight_decay = OptionalNumber(o, "weightDecay", options.weight_decay);
  options.max_grad_norm = OptionalNumber(o, "maxGradNorm", options.max_grad_norm);
  options.seed = static_cast<uint64_t>(OptionalNumber(o, "seed", static_cast<double>(options.seed)));
  if (auto schedule = OptionalString(o, "schedule")) options.schedule.kind = train::ParseScheduleKind(*schedule);
  options.schedule.warmup_steps = static_cast<int64_t>(OptionalNumber(o, "warmupSteps", 0));
  options.schedule.total_steps = static_cast<int64_t>(OptionalNumber(o, "totalSteps", 0));
  options.schedule.num_cycles = OptionalNumber(o, "numCycles", options.schedule.num_cycles);
  return options;
}

std::string Exact(double value) {
  std::ostringstream out;
  out << std::setprecision(17) << value;
  return out.str();
}

}  // namespace

Napi::Function OptimizerWrap::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "Optimizer",
                                    {
                                        InstanceMethod<&OptimizerWrap::TrainStep>("trainStep"),
                                        InstanceMethod<&OptimizerWrap::Save>("save"),
                                        InstanceMethod<&OptimizerWrap::Load>("load"),
                                        InstanceMethod<&OptimizerWrap::Dispose>("dispose"),
                                    });
  Refs(env).optimizer = Napi::Persistent(ctor);
  return ctor;
}

OptimizerWrap::OptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OptimizerWrap>(info) {
  Napi::Env env = info.Env();
  Guard(env, [&]() {
    ModelWrap* model = info.Length() > 0 ? ModelWrap::From(info[0]) : nullptr;
    if (model == nullptr) ThrowArgument(env, "model: expected a Model");
    auto state = model->Require(env);
    if (!state->module) ThrowArgument(env, "model: still loading");
    Napi::Object o = RequireObject(info, 1, "options");
    auto options = ReadOptions(o);
    if (!o.Get("processGroup").IsUndefined() && !o.Get("processGroup").IsNull()) {
      ProcessGroupWrap* group = ProcessGroupWrap::From(o.Get("processGroup"));
      if (group == nullptr) ThrowArgument(env, "options.processGroup: expected a ProcessGroup");
      auto joined = group->Require(env);
      // Each rank draws its own dropout masks, from a seed of its own.
      options.seed = train::RankSeed(options.seed, train::Rank(*joined));
      data_parallel_ =
          std::make_shared<train::DataParallel>(joined, static_cast<int64_t>(OptionalNumber(o, "checkEvery", 100)));
    }
    optimizer_ = std::make_shared<train::AdamW>(train::TrainableParameters(*state->module), options);
    optimizer_->rng_state() = train::SeededRngState(state->device, options.seed);
    model_ = state;
  });
}

std::shared_ptr<ModelState> OptimizerWrap::RequireModel(Napi::Env env) const {
  if (!optimizer_) throw MakeError(env, "LTGBERT_DISPOSED", "optimizer: used after dispose()");
  auto state = model_.lock();
  if (!state) throw MakeError(env, "LTGBERT_DISPOSED", "optimizer: its model was disposed");
  return state;
}

// trainStep([batch, ...]) -> Promise<{ loss, gradNorm, learningRate, step }>:
// one optimizer step over the micro-batches' accumulated gradients.
Napi::Value OptimizerWrap::TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = RequireModel(env);
    if (info.Length() < 1 || !info[0].IsArray()) ThrowArgument(env, "batches: expected an array of batches");
    Napi::Array list = info[0].As<Napi::Array>();
    if (list.Length() == 0) ThrowArgument(env, "batches: expected at least one batch");
    std::vector<Batch> batches;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      if (!list.Get(i).IsObject()) ThrowArgument(env, "batches[" + std::to_string(i) + "]: expected an object");
      batches.push_back(ReadBatch(env, list.Get(i).As<Napi::Object>()));
      if (!batches.back().labels.defined()) {
        ThrowArgument(env, "batches[" + std::to_string(i) + "].labels: a training step needs labels");
      }
    }
    auto optimizer = optimizer_;
    auto data_parallel = data_parallel_;
    auto result = std::make_shared<train::StepResult>();
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          auto& module = *state->module;
          for (const auto& b : batches) CheckInputs(module.config(), b.input_ids, b.attention_mask, b.labels);
          *result = train::TrainStep(module, batches, *optimizer, state->device, data_parallel.get());
        },
        [result](Napi::Env env) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("loss", result->loss);
          out.Set("gradNorm", result->grad_norm);
          out.Set("learningRate", result->learning_rate);
          out.Set("step", static_cast<double>(result->step));
          out.Set("communicationSeconds", result->communication_seconds);
          return out;
        });
  });
}

// save(file) -> Promise<string>: moments, step and random state as one
// safetensors file, written atomically.
Napi::Value OptimizerWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = RequireModel(env);
    std::string file = RequireString(info, 0, "file");
    auto optimizer = optimizer_;
    auto data_parallel = data_parallel_;
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          const auto& o = optimizer->options();
          io::TensorList tensors = optimizer->StateTensors();
          if (data_parallel) {
            // Collective: every rank's random state goes into rank 0's file;
            // the other ranks write nothing.
            auto others = data_parallel->GatherRandomStates(*optimizer);
            if (data_parallel->rank() != 0) return;
            tensors.insert(tensors.end(), others.begin(), others.end());
          }
          io::WriteSafetensors(file, tensors,
                               {{"format", "pt"},
                                {"optimizer", "AdamW"},
                                {"lr", Exact(o.learning_rate)},
                                {"betas", Exact(o.beta1) + "," + Exact(o.beta2)},
                                {"eps", Exact(o.eps)},
                                {"weight_decay", Exact(o.weight_decay)}});
        },
        [file](Napi::Env env) -> Napi::Value { return Napi::String::New(env, file); });
  });
}

// load(file) -> Promise<{ step }>: restores what save() wrote; checks every
// key and shape first, so a failed load changes nothing.
Napi::Value OptimizerWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = RequireModel(env);
    std::string file = RequireString(info, 0, "file");
    auto optimizer = optimizer_;
    auto data_parallel = data_parallel_;
    auto step = std::make_shared<int64_t>(0);
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          io::TensorList tensors = io::ReadSafetensors(file);
          train::SelectRandomState(data_parallel ? data_parallel->rank() : 0, tensors, file);
          optimizer->LoadStateTensors(tensors, file);
          *step = optimizer->step();
        },
        [step](Napi::Env env) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("step", static_cast<double>(*step));
          return out;
        });
  });
}

Napi::Value OptimizerWrap::Dispose(const Napi::CallbackInfo& info) {
  optimizer_.reset();
  data_parallel_.reset();
  return info.Env().Undefined();
}

}  // namespace ltgbert::binding
