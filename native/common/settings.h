// Every LTGBERT_* environment variable the addon reads, read once, here, on
// first use (the addon's load reads them, so a later change to the
// environment has no effect). systemInfo().settings shows them.
//
//   LTGBERT_DISABLE_ONEDNN=1   libtorch's own ops throughout: no oneDNN, and
//                              training without the hand-written backward
//                              passes (kernels/), so that both can be
//                              compared. Default: unset (off).
//   LTGBERT_PACK_WEIGHTS=0     inference's oneDNN products read the weights
//                              as they are instead of a copy reordered once
//                              into oneDNN's preferred layout. Default: 1.
//   LTGBERT_CPU_CACHE_MB=N     bounds the CPU tensor cache to N MiB (0: off).
//                              Default: unset, 1024 MiB or the most the
//                              process has had in use at once, if more.
//   LTGBERT_PROFILE_TRACE=F    writes the process's Nth forward or training
//                              step as a Chrome trace of libtorch's profiler
//                              to F (benchmark aid). Default: unset.
//   LTGBERT_PROFILE_CALL=N     which call LTGBERT_PROFILE_TRACE writes.
//                              Default: 3.
//
// LTGBERT_WITH_ONEDNN is read by the build (CMakeLists.txt), not here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ltgbert {

struct Settings {
  bool disable_onednn = false;
  bool pack_weights = true;
  std::optional<uint64_t> cpu_cache_mb;  // unset: 1024, growing to the peak in use
  std::string profile_trace;             // empty: no trace
  long profile_call = 3;
};

// The settings, read from the environment on the first call.
const Settings& GetSettings();

}  // namespace ltgbert
