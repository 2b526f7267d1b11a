#include "binding/state_dict_wrap.h"

#include "binding/class_refs.h"
#include "binding/convert.h"
#include "binding/task.h"
#include "common/error.h"

namespace ltgbert::binding {

Napi::Function StateDictWrap::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "StateDict",
                                    {
                                        InstanceMethod<&StateDictWrap::Entries>("entries"),
                                        InstanceMethod<&StateDictWrap::ReadTensor>("readTensor"),
                                        InstanceMethod<&StateDictWrap::Source>("source"),
                                    });
  Refs(env).state_dict = Napi::Persistent(ctor);
  return ctor;
}

Napi::Object StateDictWrap::New(Napi::Env env, std::shared_ptr<const io::TensorList> tensors, std::string source) {
  Napi::Object object = Refs(env).state_dict.New({});
  StateDictWrap* wrap = Unwrap(object);
  wrap->tensors_ = std::move(tensors);
  wrap->source_ = std::move(source);
  return object;
}

StateDictWrap* StateDictWrap::From(Napi::Value value) {
  if (!IsInstance(value, Refs(value.Env()).state_dict)) return nullptr;
  return Unwrap(value.As<Napi::Object>());
}

StateDictWrap::StateDictWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StateDictWrap>(info) {
  tensors_ = std::make_shared<const io::TensorList>();
}

// entries() -> [{ key, shape, dtype }] in order.
Napi::Value StateDictWrap::Entries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto entries = Napi::Array::New(env, tensors_->size());
  for (size_t i = 0; i < tensors_->size(); ++i) {
    const auto& t = (*tensors_)[i];
    auto e = Napi::Object::New(env);
    e.Set("key", t.name);
    e.Set("shape", ToShape(env, t.tensor.sizes()));
    e.Set("dtype", DtypeName(t.tensor.scalar_type()));
    entries.Set(i, e);
  }
  return entries;
}

// readTensor(key) -> Promise<{ data, shape, dtype }>: a copy, for inspection.
// On the compute thread, after any work queued before it (a training step
// that changes the weights, say).
Napi::Value StateDictWrap::ReadTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::string key = RequireString(info, 0, "key");
    auto tensors = tensors_;
    auto source = source_;
    auto copy = std::make_shared<torch::Tensor>();
    return Task::Run(
        env, Value(),
        [=]() {
          for (const auto& t : *tensors) {
            if (t.name == key) {
              *copy = t.tensor.detach().to(torch::kCPU).clone();
              return;
            }
          }
          Fail(ErrorCode::kInvalidArgument, source, ": ", key, ": no such key");
        },
        [copy](Napi::Env env) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("data", ToTypedArray(env, *copy));
          out.Set("shape", ToShape(env, copy->sizes()));
          out.Set("dtype", DtypeName(copy->scalar_type()));
          return out;
        });
  });
}

Napi::Value StateDictWrap::Source(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), source_); }

Napi::Value ReadStateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::string path = RequireString(info, 0, "path");
    auto tensors = std::make_shared<io::TensorList>();
    auto source = std::make_shared<std::string>();
    return Task::Run(
        env,
        [=]() {
          *source = io::FindCheckpointFile(path);
          *tensors = io::ReadCheckpoint(*source);
        },
        [tensors, source](Napi::Env env) -> Napi::Value { return StateDictWrap::New(env, tensors, *source); });
  });
}

}  // namespace ltgbert::binding
