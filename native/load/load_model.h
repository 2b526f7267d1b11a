// Building a model from a config and, optionally, a checkpoint: read the
// file, strip a wrapper's prefix, decide the classifier head, match the
// tensors against the shapes the config gives (before anything is
// allocated), report, initialise what the checkpoint lacks, move to the
// device. The binding turns JS options into a LoadSpec and the result back.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "io/checkpoint.h"
#include "io/state_dict.h"
#include "model/config.h"
#include "model/ltg_bert.h"

namespace ltgbert::load {

struct LoadSpec {
  std::string config_json;   // config.json's keys plus "task", as the TypeScript layer sends them
  std::string checkpoint;    // a checkpoint file or a folder holding one; empty: a fresh model
  uint64_t seed = 42;        // of the initial values of what the checkpoint lacks (all, without one)
  bool strict = true;        // missing, unexpected or mismatched keys fail the load
  std::string strip_prefix;  // removed from the checkpoint's keys first ("" none)
  std::string device = "cpu";
};

struct LoadedModel {
  model::LtgBert module{nullptr};  // in eval mode, on `device`
  torch::Device device = torch::kCPU;
  std::optional<io::LoadReport> report;                       // what the checkpoint gave; none without one
  model::ClassifierHead head = model::ClassifierHead::kAuto;  // as decided (auto resolved from the keys)
};

// Runs on the compute thread. Throws ltgbert::Error: kBadConfig,
// kInvalidArgument / kDeviceUnavailable for the device, the readers'
// errors, kShapeMismatch / kMissingKeys for a strict load that does not match.
LoadedModel LoadModel(const LoadSpec& spec);

// "cpu", "cuda" or "cuda:N" as a device this process has; throws
// kInvalidArgument or kDeviceUnavailable otherwise.
torch::Device ParseDevice(const std::string& text);

// Copies `tensors` (a state dict, its keys stripped of `strip_prefix` first)
// into `module` tensor to tensor and reports what moved. A strict load that
// does not match changes nothing.
io::LoadReport LoadStateDict(model::LtgBertImpl& module, const io::TensorList& tensors, const std::string& source,
                             bool strict, const std::string& strip_prefix);

}  // namespace ltgbert::load
