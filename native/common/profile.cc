#include "common/profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace ltgbert {
namespace {

class RecordingScope final : public ProfileScope {
 public:
  explicit RecordingScope(const std::string& file) : record_(file) {}

 private:
  torch::autograd::profiler::RecordProfile record_;
};

}  // namespace

std::unique_ptr<ProfileScope> MaybeProfile() {
  static const char* file = std::getenv("LTGBERT_PROFILE_TRACE");
  if (file == nullptr || *file == '\0') return nullptr;
  static const char* which = std::getenv("LTGBERT_PROFILE_CALL");
  static const long target = which != nullptr ? std::strtol(which, nullptr, 10) : 3;
  static std::atomic<long> count{0};
  if (++count != target) return nullptr;
  return std::make_unique<RecordingScope>(std::string(file));
}

}  // namespace ltgbert
