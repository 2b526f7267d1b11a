// Matching a list of named tensors against a module's parameters and
// buffers: what loads, what is missing, unexpected or of another shape.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace ltgbert::io {

struct Mismatch {
  std::string key;
  std::vector<int64_t> expected;
  std::vector<int64_t> actual;
};

struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::vector<Mismatch> mismatched;
  // A wrapper's prefix ("module.", ...) that the source's keys carry and
  // whose removal would match more of them; empty when none.
  std::string detected_prefix;
  bool complete() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
};

struct LoadOptions {
  std::string source;                       // file or description, for messages
  bool strict = true;                       // any missing, unexpected or mismatched key fails, changing nothing
  std::map<std::string, std::string> tied;  // alias key -> parameter key (optional in the source)
};

// A model's parameters and buffers by key: their shapes alone.
using ShapeMap = std::map<std::string, std::vector<int64_t>>;
ShapeMap ModuleShapes(torch::nn::Module& module);

// Decides what would load into a model of these shapes (they can be known
// before the model is built: model::StateShapes). Keys the model may lack in
// a checkpoint without harm (the position index buffers, computed from the
// config, and tied aliases) are never reported missing.
LoadReport MatchStateDict(const ShapeMap& targets, const TensorList& source, const LoadOptions& options);

// The source with `prefix` taken off every name that starts with it.
TensorList StripPrefix(const TensorList& source, const std::string& prefix);

// Finds a prefix that wrappers put before the model's keys (DataParallel's
// "module.", Lightning's "model.", a parent's "ltgbert." or "bert.") which,
// taken off, matches more of the source's keys to the module; "" if none.
std::string DetectWrapperPrefix(const ShapeMap& targets, const TensorList& source);

// Throws for a strict load whose report is not complete: kShapeMismatch when
// a shape differs, else kMissingKeys; the message names every key.
void CheckStrict(const LoadReport& report, const LoadOptions& options);

// Copies every loaded tensor into the module (dtype converted, no autograd).
// `drop_source`: `source` was read from a checkpoint for this load alone, so
// each tensor's file pages go back to the system once copied (see
// ReleaseFilePages).
void CopyLoaded(torch::nn::Module& module, const TensorList& source, const LoadReport& report, bool drop_source);

std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace ltgbert::io
