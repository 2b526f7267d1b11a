// The addon's JS classes, per environment (main thread, worker threads), so
// that a native method can build one or check what an argument is.
#pragma once

#include <napi.h>

namespace ltgbert::binding {

struct ClassRefs {
  Napi::FunctionReference model;
  Napi::FunctionReference state_dict;
  Napi::FunctionReference optimizer;
  Napi::FunctionReference process_group;
};

// This environment's references, created on first use.
inline ClassRefs& Refs(Napi::Env env) {
  ClassRefs* refs = env.GetInstanceData<ClassRefs>();
  if (refs == nullptr) {
    refs = new ClassRefs();
    env.SetInstanceData<ClassRefs>(refs);
  }
  return *refs;
}

// True when `value` is an instance of the class behind `ref`.
inline bool IsInstance(Napi::Value value, const Napi::FunctionReference& ref) {
  return value.IsObject() && !ref.IsEmpty() && value.As<Napi::Object>().InstanceOf(ref.Value());
}

}  // namespace ltgbert::binding
