#include "load/load_model.h"

#include <set>
#include <utility>

#include "common/error.h"

namespace ltgbert::load {
namespace {

using model::ClassifierHead;

// The sequence-classification head a checkpoint carries: the hub's MLP head
// has head.nonlinearity.* keys, the linear one classifier.*.
ClassifierHead DetectHead(const io::TensorList& tensors) {
  for (const auto& t : tensors) {
    if (t.name.rfind("head.nonlinearity.", 0) == 0) return ClassifierHead::kMlp;
  }
  return ClassifierHead::kLinear;
}

}  // namespace

torch::Device ParseDevice(const std::string& text) {
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(text);
  } catch (const c10::Error&) {
    Fail(ErrorCode::kInvalidArgument, "device: expected \"cpu\", \"cuda\" or \"cuda:N\", got \"", text, "\"");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      Fail(ErrorCode::kDeviceUnavailable, "device \"", text, "\": this libtorch build or machine has no CUDA device");
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count) {
      Fail(ErrorCode::kDeviceUnavailable, "device \"", text, "\": only ", count, " CUDA device(s) present");
    }
  } else if (!device.is_cpu()) {
    Fail(ErrorCode::kInvalidArgument, "device: expected \"cpu\", \"cuda\" or \"cuda:N\", got \"", text, "\"");
  }
  return device;
}

LoadedModel LoadModel(const LoadSpec& spec) {
  model::Config config = model::ParseConfig(spec.config_json);
  const torch::Device device = ParseDevice(spec.device);
  io::TensorList tensors;
  std::string source;
  if (!spec.checkpoint.empty()) {
    source = io::FindCheckpointFile(spec.checkpoint);
    tensors = io::ReadCheckpoint(source);
    if (!spec.strip_prefix.empty()) tensors = io::StripPrefix(tensors, spec.strip_prefix);
  }
  if (config.task == model::Task::kSequenceClassification && config.classifier_head == ClassifierHead::kAuto) {
    config.classifier_head = DetectHead(tensors);
  }
  // The checkpoint is matched against the shapes the config gives before
  // the model is built: a config that disagrees with its checkpoint (a
  // vocab_size of 50 million beside 16k rows) fails here without allocating
  // the model it describes.
  std::optional<io::LoadReport> matched;
  if (!spec.checkpoint.empty()) {
    const io::ShapeMap shapes = model::StateShapes(config);
    io::LoadOptions options;
    options.source = source;
    options.strict = spec.strict;
    options.tied = model::TiedKeys(config);
    io::LoadReport report = io::MatchStateDict(shapes, tensors, options);
    if (spec.strip_prefix.empty() && !report.complete()) {
      report.detected_prefix = io::DetectWrapperPrefix(shapes, tensors);
    }
    io::CheckStrict(report, options);
    matched = std::move(report);
  }
  LoadedModel out;
  model::LtgBert module(config);
  if (matched) {
    io::LoadReport& report = *matched;
    // What the checkpoint lacks, or holds in another shape (kept out by a
    // non-strict load), starts from the seeded initialisation.
    std::set<std::string> fresh(report.missing.begin(), report.missing.end());
    for (const auto& m : report.mismatched) fresh.insert(m.key);
    if (!fresh.empty()) module->Initialize(spec.seed, &fresh);
    io::CopyLoaded(*module, tensors, report, /*drop_source=*/true);
    out.report = std::move(report);
  } else {
    module->Initialize(spec.seed);
  }
  tensors.clear();  // drops the file's buffer before the model moves
  module->eval();
  module->to(device);
  out.module = module;
  out.device = device;
  out.head = config.classifier_head;
  return out;
}

io::LoadReport LoadStateDict(model::LtgBertImpl& module, const io::TensorList& tensors, const std::string& source,
                             bool strict, const std::string& strip_prefix) {
  const io::TensorList named = strip_prefix.empty() ? tensors : io::StripPrefix(tensors, strip_prefix);
  io::LoadOptions options;
  options.source = source;
  options.strict = strict;
  options.tied = module.TiedKeys();
  const io::ShapeMap shapes = io::ModuleShapes(module);
  io::LoadReport report = io::MatchStateDict(shapes, named, options);
  if (strip_prefix.empty() && !report.complete()) report.detected_prefix = io::DetectWrapperPrefix(shapes, named);
  io::CheckStrict(report, options);
  io::CopyLoaded(module, named, report, /*drop_source=*/false);
  return report;
}

}  // namespace ltgbert::load
