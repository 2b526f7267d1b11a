#include "binding/convert.h"

#include <cstring>

#include "binding/task.h"

namespace ltgbert::binding {

void ThrowArgument(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "LTGBERT_INVALID_ARGUMENT"));
  throw error;
}

std::string RequireString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsString())
    ThrowArgument(info.Env(), std::string(name) + ": expected a string");
  return info[index].As<Napi::String>().Utf8Value();
}

Napi::Object RequireObject(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsObject())
    ThrowArgument(info.Env(), std::string(name) + ": expected an object");
  return info[index].As<Napi::Object>();
}

namespace {

bool Absent(const Napi::Object& options, const char* key) {
  return !options.Has(key) || options.Get(key).IsUndefined();
}

}  // namespace

std::optional<std::string> OptionalString(const Napi::Object& options, const char* key) {
  if (Absent(options, key) || !options.Get(key).IsString()) return std::nullopt;
  return options.Get(key).As<Napi::String>().Utf8Value();
}

std::string OptionalString(const Napi::Object& options, const char* key, const std::string& otherwise) {
  return OptionalString(options, key).value_or(otherwise);
}

double OptionalNumber(const Napi::Object& options, const char* key, double otherwise) {
  if (Absent(options, key)) return otherwise;
  if (!options.Get(key).IsNumber()) ThrowArgument(options.Env(), std::string("options.") + key + ": expected a number");
  return options.Get(key).As<Napi::Number>().DoubleValue();
}

bool OptionalBool(const Napi::Object& options, const char* key, bool otherwise) {
  if (Absent(options, key)) return otherwise;
  return options.Get(key).ToBoolean();
}

std::vector<int64_t> RequireShape(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsArray()) ThrowArgument(env, std::string(name) + ": expected a shape array");
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0) {
      ThrowArgument(env, std::string(name) + ": shape entries must be non-negative numbers");
    }
    shape.push_back(v.As<Napi::Number>().Int64Value());
  }
  return shape;
}

torch::Tensor CopyToTensor(Napi::Env env, Napi::Value data, const std::vector<int64_t>& shape, const char* name) {
  if (!data.IsTypedArray()) ThrowArgument(env, std::string(name) + ": expected a typed array");
  auto array = data.As<Napi::TypedArray>();
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  if (static_cast<int64_t>(array.ElementLength()) != numel) {
    ThrowArgument(env, std::string(name) + ": expected " + std::to_string(numel) + " values for its shape, got " +
                           std::to_string(array.ElementLength()));
  }
  const uint8_t* bytes = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  switch (array.TypedArrayType()) {
    case napi_int32_array: {
      auto t = torch::empty(shape, torch::kInt32);
      std::memcpy(t.data_ptr(), bytes, numel * sizeof(int32_t));
      return t.to(torch::kInt64);
    }
    case napi_bigint64_array: {
      auto t = torch::empty(shape, torch::kInt64);
      std::memcpy(t.data_ptr(), bytes, numel * sizeof(int64_t));
      return t;
    }
    case napi_float32_array: {
      auto t = torch::empty(shape, torch::kFloat32);
      std::memcpy(t.data_ptr(), bytes, numel * sizeof(float));
      return t;
    }
    default:
      ThrowArgument(env, std::string(name) + ": expected an Int32Array, BigInt64Array or Float32Array");
  }
}

Napi::Float32Array ToFloat32Array(Napi::Env env, const torch::Tensor& tensor) {
  auto t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const size_t n = t.numel();
#ifndef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
  // Hand the tensor's own memory to JS: logits of a batch can be tens of MB,
  // and a copy would cost as much as a small model's forward. The buffer
  // keeps the tensor alive until V8 collects it. V8 counts an external
  // buffer's bytes toward its collection heuristics by itself, so dropped
  // results go back to the allocator's cache within a few calls (a test
  // checks it); reporting them again through napi_adjust_external_memory
  // counted them twice and set off a collection inside nearly every call,
  // up to 4 ms on the path of a 60 ms forward.
  if (n > 0) {
    auto* owner = new torch::Tensor(t);
    napi_value buffer;
    napi_status status = napi_create_external_arraybuffer(
        env, owner->data_ptr(), owner->nbytes(),
        [](napi_env, void*, void* hint) { delete static_cast<torch::Tensor*>(hint); }, owner, &buffer);
    if (status == napi_ok) return Napi::Float32Array::New(env, n, Napi::ArrayBuffer(env, buffer), 0);
    delete owner;  // runtimes that forbid external buffers (napi_no_external_buffers_allowed)
  }
#endif
  auto out = Napi::Float32Array::New(env, n);
  if (n > 0) std::memcpy(out.Data(), t.data_ptr(), n * sizeof(float));
  return out;
}

Napi::Value ToTypedArray(Napi::Env env, const torch::Tensor& tensor) {
  auto t = tensor.detach().to(torch::kCPU).contiguous();
  const size_t n = t.numel();
  switch (t.scalar_type()) {
    case torch::kInt64: {
      auto out = Napi::BigInt64Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr(), n * sizeof(int64_t));
      return out;
    }
    case torch::kInt32: {
      auto out = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr(), n * sizeof(int32_t));
      return out;
    }
    case torch::kBool:
    case torch::kUInt8: {
      auto out = Napi::Uint8Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr(), n);
      return out;
    }
    default:
      return ToFloat32Array(env, t);
  }
}

Napi::Array ToShape(Napi::Env env, c10::IntArrayRef shape) {
  auto out = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(shape[i])));
  return out;
}

Napi::Array ToStringArray(Napi::Env env, const std::vector<std::string>& values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(i, Napi::String::New(env, values[i]));
  return out;
}

std::string DtypeName(c10::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return "float32";
    case torch::kFloat16:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat64:
      return "float64";
    case torch::kInt64:
      return "int64";
    case torch::kInt32:
      return "int32";
    case torch::kInt16:
      return "int16";
    case torch::kInt8:
      return "int8";
    case torch::kUInt8:
      return "uint8";
    case torch::kBool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

}  // namespace ltgbert::binding
