// The JS class `Optimizer` of the addon: AdamW over one model's parameters,
// with its schedule, clipping and dropout random state. Its training steps,
// saves and loads run on the compute thread under the model's lock.
#pragma once

#include <napi.h>

#include <memory>

#include "binding/model_wrap.h"
#include "train/distributed.h"
#include "train/optimizer.h"

namespace ltgbert::binding {

class OptimizerWrap : public Napi::ObjectWrap<OptimizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new Optimizer(model, { learningRate, beta1, beta2, eps, weightDecay,
  //   maxGradNorm, schedule, warmupSteps, totalSteps, numCycles, seed,
  //   processGroup, checkEvery })
  explicit OptimizerWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelState> RequireModel(Napi::Env env) const;

  std::weak_ptr<ModelState> model_;
  std::shared_ptr<train::AdamW> optimizer_;
  std::shared_ptr<train::DataParallel> data_parallel_;  // with a processGroup
};

}  // namespace ltgbert::binding
