// Benchmark aid: LTGBERT_PROFILE_TRACE=<file> writes the process's Nth
// forward or training step (LTGBERT_PROFILE_CALL, default 3) as a Chrome
// trace of libtorch's profiler, every op and autograd node with its time
// (both read by common/settings.h).
#pragma once

#include <memory>

namespace ltgbert {

class ProfileScope {
 public:
  virtual ~ProfileScope() = default;
};

// A scope that records until it is destroyed when this call is the one to
// trace, else null.
std::unique_ptr<ProfileScope> MaybeProfile();

}  // namespace ltgbert
