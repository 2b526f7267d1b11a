// The JS class `Model` of the addon: owns one LTG-BERT module and runs its
// loads, forwards and saves on the native compute thread, one at a time.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <memory>
#include <mutex>

#include "model/ltg_bert.h"

namespace ltgbert::binding {

// What a model is, shared between the JS wrapper and the tasks in flight, so
// dispose() while a task runs frees the module only when the task is done.
struct ModelState {
  model::LtgBert module{nullptr};
  torch::Device device = torch::kCPU;
  std::mutex mutex;  // one operation at a time, whatever the JS side does
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The native side of a JS value, or null when it is not a Model.
  static ModelWrap* From(Napi::Value value);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  void Finalize(Napi::Env env) override;

  // The loaded model's state; throws LTGBERT_DISPOSED after dispose() and
  // LTGBERT_INVALID_ARGUMENT before load().
  std::shared_ptr<ModelState> Require(Napi::Env env) const;

 private:
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value NumParameters(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  void ReportMemory(Napi::Env env, int64_t bytes);

  std::shared_ptr<ModelState> state_;
  bool loaded_ = false;
  int64_t reported_bytes_ = 0;
};

}  // namespace ltgbert::binding
