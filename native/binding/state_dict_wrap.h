// The JS class `StateDict` of the addon: named tensors held in native
// memory — a model's own parameters (shared, not copied) or a checkpoint
// file's — that a model can load without the data passing through JS.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "io/checkpoint.h"

namespace ltgbert::binding {

class StateDictWrap : public Napi::ObjectWrap<StateDictWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // A new JS StateDict over `tensors`; `source` names them in messages.
  static Napi::Object New(Napi::Env env, std::shared_ptr<const io::TensorList> tensors, std::string source);
  // The native side of a JS value, or null when it is not a StateDict.
  static StateDictWrap* From(Napi::Value value);

  explicit StateDictWrap(const Napi::CallbackInfo& info);

  const std::shared_ptr<const io::TensorList>& tensors() const { return tensors_; }
  const std::string& source() const { return source_; }

 private:
  Napi::Value Entries(const Napi::CallbackInfo& info);
  Napi::Value ReadTensor(const Napi::CallbackInfo& info);
  Napi::Value Source(const Napi::CallbackInfo& info);

  std::shared_ptr<const io::TensorList> tensors_;
  std::string source_;
};

// readStateDict(path) -> Promise<StateDict>: a checkpoint file or model folder.
Napi::Value ReadStateDict(const Napi::CallbackInfo& info);

}  // namespace ltgbert::binding
