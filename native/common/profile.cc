#include "common/profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <atomic>
#include <string>

#include "common/settings.h"

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
  const Settings& settings = GetSettings();
  if (settings.profile_trace.empty()) return nullptr;
  static std::atomic<long> count{0};
  if (++count != settings.profile_call) return nullptr;
  return std::make_unique<RecordingScope>(settings.profile_trace);
}

}  // namespace ltgbert
