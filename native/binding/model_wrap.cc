#include "binding/model_wrap.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "binding/batch.h"
#include "binding/class_refs.h"
#include "binding/convert.h"
#include "binding/state_dict_wrap.h"
#include "binding/task.h"
#include "common/error.h"
#include "common/profile.h"
#include "io/checkpoint.h"
#include "io/state_dict.h"
#include "kernels/linear.h"
#include "load/load_model.h"

namespace ltgbert::binding {
namespace {

using model::Config;

int64_t ModuleBytes(torch::nn::Module& module) {
  int64_t bytes = 0;
  for (const auto& p : module.parameters()) bytes += p.numel() * p.element_size();
  for (const auto& b : module.buffers()) bytes += b.numel() * b.element_size();
  return bytes;
}

Napi::Object ReportToJs(Napi::Env env, const io::LoadReport& report) {
  auto out = Napi::Object::New(env);
  out.Set("loaded", ToStringArray(env, report.loaded));
  out.Set("missing", ToStringArray(env, report.missing));
  out.Set("unexpected", ToStringArray(env, report.unexpected));
  auto mismatched = Napi::Array::New(env, report.mismatched.size());
  for (size_t i = 0; i < report.mismatched.size(); ++i) {
    auto m = Napi::Object::New(env);
    m.Set("key", report.mismatched[i].key);
    m.Set("expected", ToShape(env, report.mismatched[i].expected));
    m.Set("actual", ToShape(env, report.mismatched[i].actual));
    mismatched.Set(i, m);
  }
  out.Set("mismatched", mismatched);
  if (!report.detected_prefix.empty()) out.Set("detectedPrefix", report.detected_prefix);
  return out;
}

// The model's state dict as PyTorch's state_dict() lists it, with the
// module's own tensors (no copy). PyTorch walks the modules depth first and
// lists each one's own parameters, then its buffers; named_modules() walks in
// the same order. A tied alias stands where the reference's Linear keeps its
// weight: first in its module.
io::TensorList StateDictTensors(model::LtgBertImpl& module) {
  io::TensorList out;
  auto params = module.named_parameters();
  auto tied = module.TiedKeys();
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& [alias, key] : tied) {
      const bool here = alias.rfind(prefix, 0) == 0 && alias.find('.', prefix.size()) == std::string::npos;
      if (here && params.contains(key)) out.push_back({alias, params[key]});
    }
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false))
      out.push_back({prefix + p.key(), p.value()});
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) out.push_back({prefix + b.key(), b.value()});
  }
  return out;
}

// The attention's relative-position index buffers: computed from the config,
// so never saved (Hugging Face checkpoints do not carry them either).
bool IsPositionIndices(const std::string& key) {
  static const std::string kSuffix = ".attention.position_indices";
  return key.size() >= kSuffix.size() && key.compare(key.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

constexpr const char* kSafetensorsFile = "model.safetensors";
constexpr const char* kTorchArchiveFile = "pytorch_model.bin";

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "Model",
                                    {
                                        InstanceMethod<&ModelWrap::Load>("load"),
                                        InstanceMethod<&ModelWrap::Forward>("forward"),
                                        InstanceMethod<&ModelWrap::NumParameters>("numParameters"),
                                        InstanceMethod<&ModelWrap::StateDict>("stateDict"),
                                        InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
                                        InstanceMethod<&ModelWrap::Save>("save"),
                                        InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                    });
  Refs(env).model = Napi::Persistent(ctor);
  return ctor;
}

ModelWrap* ModelWrap::From(Napi::Value value) {
  if (!IsInstance(value, Refs(value.Env()).model)) return nullptr;
  return Unwrap(value.As<Napi::Object>());
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  state_ = std::make_shared<ModelState>();
}

void ModelWrap::Finalize(Napi::Env env) { ReportMemory(env, 0); }

void ModelWrap::ReportMemory(Napi::Env env, int64_t bytes) {
  if (bytes != reported_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_bytes_);
    reported_bytes_ = bytes;
  }
}

std::shared_ptr<ModelState> ModelWrap::Require(Napi::Env env) const {
  if (!state_) throw MakeError(env, "LTGBERT_DISPOSED", "model: used after dispose()");
  if (!loaded_) throw MakeError(env, "LTGBERT_INVALID_ARGUMENT", "model: not loaded yet");
  return state_;
}

// load(configJson, { checkpoint?, seed?, strict?, device? })
//   -> Promise<{ classifierHead, report | null, bytes }>
Napi::Value ModelWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    if (!state_) throw MakeError(env, "LTGBERT_DISPOSED", "model: used after dispose()");
    if (loaded_) ThrowArgument(env, "model: load() may be called once");
    load::LoadSpec spec;
    spec.config_json = RequireString(info, 0, "config");
    Napi::Object options = RequireObject(info, 1, "options");
    spec.checkpoint = OptionalString(options, "checkpoint", "");
    spec.seed = static_cast<uint64_t>(OptionalNumber(options, "seed", 42));
    spec.strict = OptionalBool(options, "strict", true);
    spec.strip_prefix = OptionalString(options, "stripPrefix", "");
    spec.device = OptionalString(options, "device", "cpu");
    loaded_ = true;  // a second load() is refused even while this one runs

    struct Result {
      model::ClassifierHead head = model::ClassifierHead::kAuto;
      std::optional<io::LoadReport> report;
      int64_t bytes = 0;
    };
    auto result = std::make_shared<Result>();
    auto state = state_;
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          load::LoadedModel loaded = load::LoadModel(spec);
          state->device = loaded.device;
          state->module = loaded.module;
          result->head = loaded.head;
          result->report = std::move(loaded.report);
          result->bytes = ModuleBytes(*loaded.module);
        },
        [this, result](Napi::Env env) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("classifierHead", model::ClassifierHeadName(result->head));
          out.Set("report", result->report ? Napi::Value(ReportToJs(env, *result->report)) : env.Null());
          if (state_) ReportMemory(env, result->bytes);
          return out;
        });
  });
}

namespace {

// A Float32Array the caller gave for one output (forward's `logitsInto`,
// `hiddenInto`). The compute thread never writes into it: the caller may
// detach (transfer) its buffer while the call runs, and V8 may then free the
// memory. The output is computed into native memory and copied into the
// array on the JS thread at the end, if it is still there.
struct Into {
  bool given = false;
  const float* data = nullptr;
  size_t length = 0;
  bool overlaps(const Into& other) const {
    return length > 0 && other.length > 0 && data < other.data + other.length && other.data < data + length;
  }
};

Into ReadInto(Napi::Env env, Napi::Object args, const char* key, const std::string& name) {
  Napi::Value value = args.Get(key);
  if (value.IsUndefined()) return {};
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    ThrowArgument(env, name + ": expected a Float32Array");
  auto array = value.As<Napi::Float32Array>();
  if (array.ArrayBuffer().IsDetached()) ThrowArgument(env, name + ": the Float32Array's buffer is detached");
  return Into{true, array.Data(), array.ElementLength()};
}

// Fails unless the caller's array has exactly the output's size.
void CheckIntoSize(const Into& into, const std::string& name, const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  if (static_cast<int64_t>(into.length) != numel) {
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    Fail(ErrorCode::kInvalidArgument, name, ": expected a Float32Array of ", numel, " values (shape [", dims,
         "]), got ", into.length);
  }
}

// On the JS thread, at the end of the call: copies `result` into the
// caller's array, unless its buffer was detached or resized meanwhile.
void CopyInto(Napi::Value value, const torch::Tensor& result, const std::string& name) {
  auto array = value.As<Napi::Float32Array>();
  const size_t numel = static_cast<size_t>(result.numel());
  if (array.ArrayBuffer().IsDetached() || array.Data() == nullptr) {
    Fail(ErrorCode::kInvalidArgument, name,
         ": the Float32Array's buffer was detached (transferred) while the call ran; nothing was written");
  }
  if (array.ElementLength() != numel) {
    Fail(ErrorCode::kInvalidArgument, name, ": the Float32Array was resized to ", array.ElementLength(),
         " values while the call ran (expected ", numel, "); nothing was written");
  }
  std::memcpy(array.Data(), result.data_ptr<float>(), numel * sizeof(float));
}

// The caller's out arrays, held until the call settles. Released on the JS
// thread there; if the environment is torn down first, left to it.
struct OutArrays {
  Napi::ObjectReference ref;
  ~OutArrays() {
    if (!ref.IsEmpty()) ref.SuppressDestruct();
  }
};

// The logits' shape for a batch of ids (B, T), or (B, C, T) for multiple
// choice; empty where the task gives none under that name (the bare encoder,
// question answering's start and end logits).
std::vector<int64_t> LogitsShape(const Config& c, const torch::Tensor& ids) {
  const int64_t B = ids.size(0), T = ids.size(-1);
  switch (c.task) {
    case model::Task::kMaskedLM:
      return {B, T, c.vocab_size};
    case model::Task::kSequenceClassification:
      return {B, c.num_labels};
    case model::Task::kTokenClassification:
      return {B, T, c.num_labels};
    case model::Task::kMultipleChoice:
      return {B, ids.size(1)};
    case model::Task::kQuestionAnswering:
    case model::Task::kBase:
      break;
  }
  return {};
}

torch::Tensor ToHost(const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32).contiguous(); }

// [{ data, shape }, ...]
Napi::Array ToTensorList(Napi::Env env, const std::vector<torch::Tensor>& tensors) {
  auto out = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto item = Napi::Object::New(env);
    item.Set("data", ToFloat32Array(env, tensors[i]));
    item.Set("shape", ToShape(env, tensors[i].sizes()));
    out.Set(i, item);
  }
  return out;
}

}  // namespace

// forward({ inputIds, attentionMask, shape, labels?, labelsShape?, hidden?, hiddenStates?, attentions?,
//           logitsInto?, hiddenInto? })
//   -> Promise<{ logits?, logitsShape?, startLogits?, endLogits?, positionShape?, lastHiddenState?,
//                hiddenShape?, loss?, hiddenStates?, layerOutputs?, attentions? }>
// With logitsInto / hiddenInto (Float32Arrays of the outputs' sizes) the
// outputs are copied there at the end and left out of the result: no new
// JS memory, and nothing new for V8's collector to find. hiddenStates and
// attentions (booleans) ask for every layer's outputs and probabilities.
Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = Require(env);
    Napi::Object args = RequireObject(info, 0, "inputs");
    const Batch batch = ReadBatch(env, args);
    auto ids = batch.input_ids, mask = batch.attention_mask, labels = batch.labels;
    model::ForwardOptions options;
    options.need_hidden = args.Get("hidden").ToBoolean();
    options.hidden_states = args.Get("hiddenStates").ToBoolean();
    options.attentions = args.Get("attentions").ToBoolean();
    const Into logits_into = ReadInto(env, args, "logitsInto", "out.logits");
    const Into hidden_into = ReadInto(env, args, "hiddenInto", "out.lastHiddenState");
    if (hidden_into.given && !options.need_hidden)
      ThrowArgument(env, "out.lastHiddenState: given with hiddenStates false");
    if (logits_into.overlaps(hidden_into))
      ThrowArgument(env, "out.logits and out.lastHiddenState: expected separate memory, got overlapping arrays");
    auto arrays = std::make_shared<OutArrays>();
    if (logits_into.given || hidden_into.given) {
      auto held = Napi::Object::New(env);
      held.Set("logits", args.Get("logitsInto"));
      held.Set("hidden", args.Get("hiddenInto"));
      arrays->ref = Napi::Persistent(held);
    }

    auto out = std::make_shared<model::Output>();
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          auto& module = state->module;
          const Config& config = module->config();
          CheckInputs(config, ids, mask, labels);
          if (logits_into.given) {
            const auto shape = LogitsShape(config, ids);
            if (shape.empty()) {
              Fail(ErrorCode::kInvalidArgument, "out.logits: this model (", model::TaskName(config.task),
                   ") has no output named logits");
            }
            CheckIntoSize(logits_into, "out.logits", shape);
          }
          if (hidden_into.given) {
            const int64_t rows = ids.numel() / ids.size(-1);  // B, or B * C for multiple choice
            CheckIntoSize(hidden_into, "out.lastHiddenState", {rows, ids.size(-1), config.hidden_size});
          }
          auto profile = MaybeProfile();
          torch::InferenceMode inference;
          auto result = module->forward(ids.to(state->device), mask.to(state->device),
                                        labels.defined() ? labels.to(state->device) : labels, options);
          if (result.start_logits.defined()) {
            out->start_logits = ToHost(result.start_logits);
            out->end_logits = ToHost(result.end_logits);
          } else if (result.logits.defined()) {
            out->logits = ToHost(result.logits);
          }
          if (options.need_hidden && result.last_hidden_state.defined())
            out->last_hidden_state = ToHost(result.last_hidden_state);
          if (result.loss.defined()) out->loss = result.loss.to(torch::kCPU, torch::kFloat64);
          for (auto& t : result.hidden_states) out->hidden_states.push_back(ToHost(t));
          for (auto& t : result.layer_outputs) out->layer_outputs.push_back(ToHost(t));
          for (auto& t : result.attentions) out->attentions.push_back(ToHost(t));
        },
        [out, arrays, logits_given = logits_into.given,
         hidden_given = hidden_into.given](Napi::Env env) -> Napi::Value {
          if (!arrays->ref.IsEmpty()) {
            Napi::Object held = arrays->ref.Value();
            arrays->ref.Reset();
            if (logits_given) CopyInto(held.Get("logits"), out->logits, "out.logits");
            if (hidden_given) CopyInto(held.Get("hidden"), out->last_hidden_state, "out.lastHiddenState");
          }
          auto js = Napi::Object::New(env);
          if (out->logits.defined()) {
            if (!logits_given) js.Set("logits", ToFloat32Array(env, out->logits));
            js.Set("logitsShape", ToShape(env, out->logits.sizes()));
          }
          if (out->start_logits.defined()) {
            js.Set("startLogits", ToFloat32Array(env, out->start_logits));
            js.Set("endLogits", ToFloat32Array(env, out->end_logits));
            js.Set("positionShape", ToShape(env, out->start_logits.sizes()));
          }
          if (out->last_hidden_state.defined()) {
            if (!hidden_given) js.Set("lastHiddenState", ToFloat32Array(env, out->last_hidden_state));
            js.Set("hiddenShape", ToShape(env, out->last_hidden_state.sizes()));
          }
          if (out->loss.defined()) js.Set("loss", out->loss.item<double>());
          if (!out->hidden_states.empty()) {
            js.Set("hiddenStates", ToTensorList(env, out->hidden_states));
            js.Set("layerOutputs", ToTensorList(env, out->layer_outputs));
          }
          if (!out->attentions.empty()) js.Set("attentions", ToTensorList(env, out->attentions));
          return js;
        });
  });
}

Napi::Value ModelWrap::NumParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = Require(env);
    if (!state->module) ThrowArgument(env, "model: still loading");
    int64_t count = 0;
    for (const auto& p : state->module->parameters()) count += p.numel();
    return Napi::Number::New(env, static_cast<double>(count));
  });
}

// stateDict() -> StateDict over the model's own tensors (shared, not
// copied), in PyTorch's state_dict() order with tied aliases.
Napi::Value ModelWrap::StateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = Require(env);
    if (!state->module) ThrowArgument(env, "model: still loading");
    auto tensors = std::make_shared<io::TensorList>(StateDictTensors(*state->module));
    for (auto& t : *tensors) t.tensor = t.tensor.detach();
    return StateDictWrap::New(env, std::move(tensors), "state dict of the model");
  });
}

// loadStateDict(stateDict, { strict, stripPrefix }) -> Promise<report>: copies
// tensor to tensor inside libtorch. A strict load that does not match
// changes nothing.
Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = Require(env);
    StateDictWrap* source = info.Length() > 0 ? StateDictWrap::From(info[0]) : nullptr;
    if (source == nullptr) ThrowArgument(env, "stateDict: expected a StateDict");
    Napi::Object options = RequireObject(info, 1, "options");
    const bool strict = OptionalBool(options, "strict", true);
    const std::string prefix = OptionalString(options, "stripPrefix", "");
    auto tensors = source->tensors();
    const std::string source_name = source->source();
    auto report = std::make_shared<io::LoadReport>();
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          *report = load::LoadStateDict(*state->module, *tensors, source_name, strict, prefix);
        },
        [report](Napi::Env env) -> Napi::Value { return ReportToJs(env, *report); });
  });
}

// save(dir, { format: "safetensors" | "pytorch" }) -> Promise<string>, the
// file written: dir/model.safetensors or dir/pytorch_model.bin. The folder
// must exist. Writes the state dict without the position index buffers
// (computed from the config), and for safetensors without tied aliases, as
// Hugging Face's save_pretrained leaves them out; torch.save(state_dict())
// keeps them, so the archive does too. Atomic: a failed write leaves the
// previous file as it was.
Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto state = Require(env);
    std::string dir = RequireString(info, 0, "dir");
    Napi::Object options = RequireObject(info, 1, "options");
    const std::string format = OptionalString(options, "format", "");
    if (format != "safetensors" && format != "pytorch") {
      ThrowArgument(env, "options.format: expected \"safetensors\" or \"pytorch\", got \"" + format + "\"");
    }
    if (dir.empty()) ThrowArgument(env, "dir: expected a folder path, got \"\"");
    const bool safetensors = format == "safetensors";
    const std::string file =
        dir + (dir.back() == '/' ? "" : "/") + (safetensors ? kSafetensorsFile : kTorchArchiveFile);
    return Task::Run(
        env, Value(),
        [=]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          if (!state->module) Fail(ErrorCode::kInvalidArgument, "model: still loading");
          torch::NoGradGuard no_grad;
          auto tied = state->module->TiedKeys();
          io::TensorList tensors;
          for (auto& [name, tensor] : StateDictTensors(*state->module)) {
            if (IsPositionIndices(name) || (safetensors && tied.count(name))) continue;
            // Float32, whatever the model computes in; the writers copy to the
            // CPU and make contiguous one tensor at a time, so a CUDA model
            // never needs a second full copy in host memory.
            torch::Tensor t = tensor.detach();
            if (t.is_floating_point() && t.scalar_type() != torch::kFloat32) t = t.to(torch::kFloat32);
            tensors.push_back({name, t});
          }
          if (safetensors) {
            io::WriteSafetensors(file, tensors, {{"format", "pt"}});
          } else {
            io::WriteTorchArchive(file, tensors);
          }
        },
        [file](Napi::Env env) -> Napi::Value { return Napi::String::New(env, file); });
  });
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  ReportMemory(info.Env(), 0);
  state_.reset();
  kernels::ReleasePackedWeights();  // those of this model, unless a call in flight still holds it
  return info.Env().Undefined();
}

}  // namespace ltgbert::binding
