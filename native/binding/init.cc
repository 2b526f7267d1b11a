#include "binding/init.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "binding/convert.h"
#include "binding/state_dict_wrap.h"
#include "binding/task.h"
#include "common/error.h"
#include "init/cooccurrence.h"

namespace ltgbert::binding {

namespace {

int64_t Length(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsTypedArray()) ThrowArgument(env, std::string(name) + ": expected a typed array");
  return static_cast<int64_t>(value.As<Napi::TypedArray>().ElementLength());
}

}  // namespace

Napi::Value CooccurrenceEmbeddings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    auto ids = CopyToTensor(env, info[0], {Length(env, info[0], "ids")}, "ids");
    auto offsets = CopyToTensor(env, info[1], {Length(env, info[1], "offsets")}, "offsets");
    Napi::Object options = RequireObject(info, 2, "options");
    StateDictWrap* reference = StateDictWrap::From(options.Get("reference"));
    if (reference == nullptr) ThrowArgument(env, "options.reference: expected a StateDict");
    const std::string key = OptionalString(options, "key", "");
    torch::Tensor keep =
        options.Get("keep").IsTypedArray()
            ? CopyToTensor(env, options.Get("keep"), {Length(env, options.Get("keep"), "keep")}, "keep")
            : torch::zeros({0}, torch::kInt64);
    init::CooccurrenceOptions o;
    o.min_count = static_cast<int64_t>(OptionalNumber(options, "minCount", 5));
    o.seed = static_cast<uint64_t>(OptionalNumber(options, "seed", 42));
    auto tensors = reference->tensors();
    auto source = reference->source();
    auto out = std::make_shared<io::TensorList>();
    auto counts = std::make_shared<std::pair<int64_t, int64_t>>();
    return Task::Run(
        env,
        [=]() mutable {
          torch::Tensor target;
          for (const auto& t : *tensors)
            if (t.name == key) target = t.tensor;
          if (!target.defined()) Fail(ErrorCode::kInvalidArgument, source, ": ", key, ": no such key");
          if (target.dim() != 2)
            Fail(ErrorCode::kShapeMismatch, source, ": ", key, ": expected a matrix, got ", target.sizes());
          o.vocab_size = target.size(0);
          o.dim = target.size(1);
          auto result = init::Cooccurrence(ids, offsets, o);
          torch::NoGradGuard no_grad;
          auto current = target.detach().to(torch::kCPU, torch::kFloat32);
          auto vectors = result.vectors;
          const double spread = vectors.std().item<double>();
          if (spread > 0) vectors = vectors * (current.std().item<double>() / spread);
          if (keep.numel() > 0) {
            auto rows = keep.to(torch::kInt64);
            if (rows.min().item<int64_t>() < 0 || rows.max().item<int64_t>() >= o.vocab_size)
              Fail(ErrorCode::kInvalidArgument, "keep: expected ids 0 to ", o.vocab_size - 1);
            vectors.index_copy_(0, rows, current.index_select(0, rows));
          }
          out->push_back({key, vectors.to(target.scalar_type()).contiguous()});
          *counts = {result.documents, result.pairs};
        },
        [out, counts](Napi::Env env) -> Napi::Value {
          auto result = Napi::Object::New(env);
          result.Set("stateDict", StateDictWrap::New(env, out, "co-occurrence vectors"));
          result.Set("documents", Napi::Number::New(env, static_cast<double>(counts->first)));
          result.Set("pairs", Napi::Number::New(env, static_cast<double>(counts->second)));
          return result;
        });
  });
}

}  // namespace ltgbert::binding
