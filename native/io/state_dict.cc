#include "io/state_dict.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/error.h"
#include "io/files.h"

namespace ltgbert::io {
namespace {

std::unordered_map<std::string, torch::Tensor> Targets(torch::nn::Module& module) {
  std::unordered_map<std::string, torch::Tensor> targets;
  for (auto& p : module.named_parameters()) targets.emplace(p.key(), p.value());
  for (auto& b : module.named_buffers()) targets.emplace(b.key(), b.value());
  return targets;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Buffers that the model computes from its config: a checkpoint may carry
// them (the reference saves them) or not (save_pretrained drops them).
bool IsComputedBuffer(const std::string& key) { return EndsWith(key, ".position_indices"); }

std::string JoinKeys(const std::vector<std::string>& keys, size_t limit = 12) {
  std::ostringstream out;
  for (size_t i = 0; i < keys.size() && i < limit; ++i) out << (i ? ", " : "") << keys[i];
  if (keys.size() > limit) out << ", … (" << keys.size() - limit << " more)";
  return out.str();
}

}  // namespace

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

ShapeMap ModuleShapes(torch::nn::Module& module) {
  ShapeMap shapes;
  for (const auto& [key, tensor] : Targets(module)) shapes.emplace(key, tensor.sizes().vec());
  return shapes;
}

LoadReport MatchStateDict(const ShapeMap& targets, const TensorList& source, const LoadOptions& options) {
  LoadReport report;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : source) {
    if (!seen.insert(name).second) {
      Fail(ErrorCode::kBadCheckpoint, options.source, ": ", name, ": the key appears twice");
    }
    auto tied = options.tied.find(name);
    const std::string& key = tied == options.tied.end() ? name : tied->second;
    auto target = targets.find(key);
    if (target == targets.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    const auto& expected = target->second;
    auto actual = tensor.sizes().vec();
    if (expected != actual) {
      report.mismatched.push_back({name, expected, actual});
    } else if (tied == options.tied.end()) {
      report.loaded.push_back(name);
    }
  }
  for (const auto& [key, shape] : targets) {
    if (!seen.count(key) && !IsComputedBuffer(key)) report.missing.push_back(key);
  }
  std::sort(report.missing.begin(), report.missing.end());
  return report;
}

TensorList StripPrefix(const TensorList& source, const std::string& prefix) {
  TensorList out;
  out.reserve(source.size());
  for (const auto& [name, tensor] : source) {
    const bool has = !prefix.empty() && name.compare(0, prefix.size(), prefix) == 0;
    out.push_back({has ? name.substr(prefix.size()) : name, tensor});
  }
  return out;
}

std::string DetectWrapperPrefix(const ShapeMap& targets, const TensorList& source) {
  auto matches = [&](const TensorList& list) {
    size_t n = 0;
    for (const auto& t : list) n += targets.count(t.name);
    return n;
  };
  const size_t plain = matches(source);
  for (const char* prefix : {"module.", "model.", "ltgbert.", "bert.", "module.model."}) {
    if (matches(StripPrefix(source, prefix)) > plain) return prefix;
  }
  return "";
}

void CheckStrict(const LoadReport& report, const LoadOptions& options) {
  if (!options.strict || report.complete()) return;
  std::ostringstream out;
  out << options.source << ": the checkpoint does not match the model";
  for (const auto& m : report.mismatched) {
    out << "; " << m.key << ": expected " << ShapeString(m.expected) << ", got " << ShapeString(m.actual);
  }
  if (!report.missing.empty()) out << "; missing " << report.missing.size() << " keys: " << JoinKeys(report.missing);
  if (!report.unexpected.empty()) {
    out << "; unexpected " << report.unexpected.size() << " keys: " << JoinKeys(report.unexpected);
  }
  if (!report.detected_prefix.empty()) {
    out << "; its keys carry the prefix \"" << report.detected_prefix << "\" (a wrapper's): load with { stripPrefix: \""
        << report.detected_prefix << "\" }";
  }
  throw Error(report.mismatched.empty() ? ErrorCode::kMissingKeys : ErrorCode::kShapeMismatch, out.str());
}

void CopyLoaded(torch::nn::Module& module, const TensorList& source, const LoadReport& report, bool drop_source) {
  torch::NoGradGuard no_grad;
  auto targets = Targets(module);
  std::set<std::string> loaded(report.loaded.begin(), report.loaded.end());
  for (const auto& [name, tensor] : source) {
    if (!loaded.count(name)) continue;
    targets.at(name).copy_(tensor);
    if (drop_source) ReleaseFilePages(tensor.data_ptr(), tensor.nbytes());
  }
}

}  // namespace ltgbert::io
