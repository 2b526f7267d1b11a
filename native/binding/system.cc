#include "binding/system.h"

#include <torch/torch.h>

#include "binding/convert.h"
#include "binding/task.h"
#include "common/cpu_allocator.h"
#include "common/settings.h"
#include "io/checkpoint.h"
#include "kernels/linear.h"
#include "model/config.h"

// Why the build has oneDNN or not, as the build decided it (CMakeLists.txt
// and scripts/find-libtorch.mjs): used, not-found, config-failed,
// build-failed, run-failed, turned-off or libtorch-bundles-its-own.
#ifndef LTGBERT_ONEDNN_STATUS
#define LTGBERT_ONEDNN_STATUS unknown
#endif
#define LTGBERT_STRINGIFY_(x) #x
#define LTGBERT_STRINGIFY(x) LTGBERT_STRINGIFY_(x)

namespace ltgbert::binding {
namespace {

constexpr const char* kOneDnnBuildStatus = LTGBERT_STRINGIFY(LTGBERT_ONEDNN_STATUS);

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The bound of lib/system.ts's MAX_THREADS, kept here too: thousands of
  // OpenMP threads could wedge the compute thread.
  constexpr double kMaxThreads = 256;
  const double requested = info.Length() < 1 || !info[0].IsNumber() ? 0 : info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 1 && requested <= kMaxThreads)) {
    ThrowArgument(env, "setNumThreads: expected an integer from 1 to 256");
  }
  const int threads = info[0].As<Napi::Number>().Int32Value();
  SetThreadCount(threads);
  return Guard(env, [&]() -> Napi::Value {
    ApplyThreadCount();
    return env.Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ThreadCount()); }

Napi::Value SystemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto out = Napi::Object::New(env);
    out.Set("libtorchVersion", TORCH_VERSION);
#ifdef LTGBERT_WITH_CUDA
    out.Set("builtWithCuda", true);
#else
    out.Set("builtWithCuda", false);
#endif
    out.Set("cudaAvailable", torch::cuda::is_available());
    out.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
    out.Set("parallelInfo", at::get_parallel_info());
    // What the linear layers and attention products run on: "" without oneDNN.
    const Settings& settings = GetSettings();
    out.Set("oneDnn", settings.disable_onednn ? std::string() : kernels::OneDnnVersion());
    out.Set("oneDnnStatus",
            settings.disable_onednn ? std::string("disabled-at-runtime") : std::string(kOneDnnBuildStatus));
    out.Set("cachedCpuBytes", static_cast<double>(CachedCpuBytes()));
    const CpuCacheStats cache = GetCpuCacheStats();
    auto cpu_cache = Napi::Object::New(env);
    cpu_cache.Set("cachedBytes", static_cast<double>(cache.cached_bytes));
    cpu_cache.Set("liveBytes", static_cast<double>(cache.live_bytes));
    cpu_cache.Set("peakLiveBytes", static_cast<double>(cache.peak_live_bytes));
    cpu_cache.Set("freshBlocks", static_cast<double>(cache.fresh_blocks));
    cpu_cache.Set("freshBytes", static_cast<double>(cache.fresh_bytes));
    cpu_cache.Set("reusedBlocks", static_cast<double>(cache.reused_blocks));
    cpu_cache.Set("reusedBytes", static_cast<double>(cache.reused_bytes));
    out.Set("cpuCache", cpu_cache);
    const kernels::PackedWeightStats packed = kernels::GetPackedWeightStats();
    auto packed_weights = Napi::Object::New(env);
    packed_weights.Set("tensors", static_cast<double>(packed.tensors));
    packed_weights.Set("bytes", static_cast<double>(packed.bytes));
    out.Set("packedWeights", packed_weights);
    // The LTGBERT_* environment as the addon read it (common/settings.h).
    auto env_settings = Napi::Object::New(env);
    env_settings.Set("disableOneDnn", settings.disable_onednn);
    env_settings.Set("packWeights", settings.pack_weights);
    // null: unset, 1024 MiB growing to the most in use at once.
    Napi::Value cache_mb = env.Null();
    if (settings.cpu_cache_mb) cache_mb = Napi::Number::New(env, static_cast<double>(*settings.cpu_cache_mb));
    env_settings.Set("cpuCacheMb", cache_mb);
    env_settings.Set("profileTrace", settings.profile_trace);
    env_settings.Set("profileCall", static_cast<double>(settings.profile_call));
    out.Set("settings", env_settings);
    out.Set("config", at::show_config());
    return out;
  });
}

// readCheckpointInfo(path) -> Promise<[{ key, shape, dtype }]>
Napi::Value ReadCheckpointInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::string path = RequireString(info, 0, "path");
    auto tensors = std::make_shared<io::TensorList>();
    return Task::Run(
        env, [=]() { *tensors = io::ReadCheckpoint(path); },
        [tensors](Napi::Env env) -> Napi::Value {
          auto out = Napi::Array::New(env, tensors->size());
          for (size_t i = 0; i < tensors->size(); ++i) {
            auto e = Napi::Object::New(env);
            e.Set("key", (*tensors)[i].name);
            e.Set("shape", ToShape(env, (*tensors)[i].tensor.sizes()));
            e.Set("dtype", DtypeName((*tensors)[i].tensor.scalar_type()));
            out.Set(i, e);
          }
          tensors->clear();
          return out;
        });
  });
}

// configDefaults() -> the values config.json's optional keys take when
// absent (model/config.h), in the order lib/config.ts fills them; the last
// two, num_labels and problem_type, a classifier's only.
Napi::Value ConfigDefaults(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const model::Config d;
  auto out = Napi::Object::New(env);
  out.Set("max_position_embeddings", static_cast<double>(d.max_position_embeddings));
  out.Set("position_bucket_size", static_cast<double>(d.position_bucket_size));
  out.Set("layer_norm_eps", d.layer_norm_eps);
  out.Set("hidden_dropout_prob", d.hidden_dropout_prob);
  out.Set("attention_probs_dropout_prob", d.attention_probs_dropout_prob);
  out.Set("position_qk_split", model::PositionSplitName(d.position_qk_split));
  out.Set("num_labels", static_cast<double>(d.num_labels));  // a classifier's alone
  out.Set("problem_type", model::ProblemTypeName(d.problem_type));
  return out;
}

Napi::Value ReleaseCachedMemory(const Napi::CallbackInfo& info) {
  ReleaseCachedCpuMemory();
  return info.Env().Undefined();
}

// LTGBERT_CPU_CACHE_MB bounds the CPU tensor cache (0: off). Without it the
// bound is 1024 MiB or the most the process has had in use at once, if
// more: a training step's activations come back every step.
void InstallAllocator() {
  const std::optional<uint64_t> megabytes = GetSettings().cpu_cache_mb;
  InstallCachingCpuAllocator(static_cast<size_t>(megabytes.value_or(1024)) << 20, /*grow_to_peak=*/!megabytes);
}

}  // namespace

void DefineSystemFunctions(Napi::Env env, Napi::Object exports) {
  InstallAllocator();
  exports.Set("releaseCachedMemory", Napi::Function::New<ReleaseCachedMemory>(env, "releaseCachedMemory"));
  exports.Set("setNumThreads", Napi::Function::New<SetNumThreads>(env, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New<GetNumThreads>(env, "getNumThreads"));
  exports.Set("systemInfo", Napi::Function::New<SystemInfo>(env, "systemInfo"));
  exports.Set("configDefaults", Napi::Function::New<ConfigDefaults>(env, "configDefaults"));
  exports.Set("readCheckpointInfo", Napi::Function::New<ReadCheckpointInfo>(env, "readCheckpointInfo"));
}

}  // namespace ltgbert::binding
