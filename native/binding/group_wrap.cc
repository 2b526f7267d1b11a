#include "binding/group_wrap.h"

#include <string>
#include <vector>

#include "binding/class_refs.h"
#include "binding/convert.h"
#include "binding/task.h"
#include "common/error.h"

namespace ltgbert::binding {
namespace {

std::vector<double> ReadDoubles(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowArgument(env, std::string(name) + ": expected a Float64Array");
  }
  auto array = value.As<Napi::Float64Array>();
  return std::vector<double>(array.Data(), array.Data() + array.ElementLength());
}

Napi::Float64Array ToArray(Napi::Env env, const std::vector<double>& values) {
  auto array = Napi::Float64Array::New(env, values.size());
  std::copy(values.begin(), values.end(), array.Data());
  return array;
}

}  // namespace

Napi::Function ProcessGroupWrap::Define(Napi::Env env) {
  Napi::Function ctor =
      DefineClass(env, "ProcessGroup",
                  {
                      InstanceMethod<&ProcessGroupWrap::Join>("join"),
                      InstanceMethod<&ProcessGroupWrap::AllReduceSum>("allReduceSum"),
                      InstanceMethod<&ProcessGroupWrap::AllGather>("allGather"),
                      InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
                      InstanceMethod<&ProcessGroupWrap::Shutdown>("shutdown"),
                      StaticValue("available", Napi::Boolean::New(env, train::DistributedAvailable())),
                  });
  Refs(env).process_group = Napi::Persistent(ctor);
  return ctor;
}

ProcessGroupWrap* ProcessGroupWrap::From(Napi::Value value) {
  if (!IsInstance(value, Refs(value.Env()).process_group)) return nullptr;
  return Unwrap(value.As<Napi::Object>());
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {}

std::shared_ptr<train::ProcessGroup> ProcessGroupWrap::Require(Napi::Env env) const {
  if (!group_) throw MakeError(env, "LTGBERT_DISTRIBUTED", "processGroup: not joined, or shut down");
  return group_;
}

Napi::Value ProcessGroupWrap::Join(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    if (group_ || joining_) ThrowArgument(env, "processGroup: join() was already called");
    Napi::Object o = RequireObject(info, 0, "options");
    train::GroupOptions options;
    options.master_addr = OptionalString(o, "masterAddr", options.master_addr);
    options.master_port = static_cast<int>(OptionalNumber(o, "masterPort", options.master_port));
    options.rank = static_cast<int>(OptionalNumber(o, "rank", options.rank));
    options.world_size = static_cast<int>(OptionalNumber(o, "worldSize", options.world_size));
    options.timeout = std::chrono::milliseconds(
        static_cast<int64_t>(OptionalNumber(o, "timeoutMs", static_cast<double>(options.timeout.count()))));
    options.interfaces = OptionalString(o, "interfaces", "");
    joining_ = true;
    auto joined = std::make_shared<std::shared_ptr<train::ProcessGroup>>();
    return Task::Run(
        env, Value(), [options, joined]() { *joined = train::JoinProcessGroup(options); },
        [this, joined](Napi::Env env) -> Napi::Value {
          group_ = *joined;
          auto out = Napi::Object::New(env);
          out.Set("rank", train::Rank(*group_));
          out.Set("worldSize", train::WorldSize(*group_));
          return out;
        });
  });
}

Napi::Value ProcessGroupWrap::AllReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto group = Require(env);
    auto values = ReadDoubles(env, info[0], "values");
    auto out = std::make_shared<std::vector<double>>();
    return Task::Run(
        env, Value(), [=]() { *out = train::AllReduceSum(*group, values, "allReduceSum"); },
        [out](Napi::Env env) -> Napi::Value { return ToArray(env, *out); });
  });
}

Napi::Value ProcessGroupWrap::AllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto group = Require(env);
    auto values = ReadDoubles(env, info[0], "values");
    auto out = std::make_shared<std::vector<std::vector<double>>>();
    return Task::Run(
        env, Value(), [=]() { *out = train::AllGather(*group, values, "allGather"); },
        [out](Napi::Env env) -> Napi::Value {
          auto list = Napi::Array::New(env, out->size());
          for (size_t r = 0; r < out->size(); ++r) list.Set(static_cast<uint32_t>(r), ToArray(env, (*out)[r]));
          return list;
        });
  });
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto group = Require(env);
    return Task::Run(
        env, Value(), [=]() { train::Barrier(*group, "barrier"); },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value ProcessGroupWrap::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto group = group_;
    group_.reset();
    return Task::Run(
        env, Value(),
        [group]() {
          if (group) train::Shutdown(*group);
        },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  });
}

}  // namespace ltgbert::binding
