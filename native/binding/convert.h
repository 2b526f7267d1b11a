// Argument checks and conversions between JS values and tensors. The
// TypeScript layer validates first; these re-check what would otherwise
// crash the process (a bad As<>, a short buffer).
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace ltgbert::binding {

// Throws a JS TypeError with code LTGBERT_INVALID_ARGUMENT.
[[noreturn]] void ThrowArgument(Napi::Env env, const std::string& message);

std::string RequireString(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Object RequireObject(const Napi::CallbackInfo& info, size_t index, const char* name);
std::vector<int64_t> RequireShape(Napi::Env env, Napi::Value value, const char* name);

// Optional members of an options object, each `otherwise` where the key is
// absent or undefined. A string option of another type is `otherwise` too;
// a number option of another type throws "options.<key>: expected a
// number"; a bool option takes any value's truthiness.
std::optional<std::string> OptionalString(const Napi::Object& options, const char* key);
std::string OptionalString(const Napi::Object& options, const char* key, const std::string& otherwise);
double OptionalNumber(const Napi::Object& options, const char* key, double otherwise);
bool OptionalBool(const Napi::Object& options, const char* key, bool otherwise);

// Copies an Int32Array, BigInt64Array or Float32Array with the given shape
// into a new CPU tensor (int64 for integer arrays, float32 otherwise).
torch::Tensor CopyToTensor(Napi::Env env, Napi::Value data, const std::vector<int64_t>& shape, const char* name);

// Copies a tensor out as a Float32Array.
Napi::Float32Array ToFloat32Array(Napi::Env env, const torch::Tensor& tensor);
// Copies a tensor out as a typed array of its own kind (float32, int64 as
// BigInt64Array, int32, uint8/bool as Uint8Array); other dtypes as float32.
Napi::Value ToTypedArray(Napi::Env env, const torch::Tensor& tensor);

Napi::Array ToShape(Napi::Env env, c10::IntArrayRef shape);
Napi::Array ToStringArray(Napi::Env env, const std::vector<std::string>& values);
std::string DtypeName(c10::ScalarType type);

}  // namespace ltgbert::binding
