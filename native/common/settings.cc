#include "common/settings.h"

#include <cstdlib>
#include <cstring>

namespace ltgbert {
namespace {

// A yes/no switch: unset or empty gives `otherwise`, "0" no, anything else yes.
bool Flag(const char* name, bool otherwise) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return otherwise;
  return std::strcmp(value, "0") != 0;
}

Settings Read() {
  Settings s;
  s.disable_onednn = Flag("LTGBERT_DISABLE_ONEDNN", false);
  s.pack_weights = Flag("LTGBERT_PACK_WEIGHTS", true);
  if (const char* mb = std::getenv("LTGBERT_CPU_CACHE_MB"); mb != nullptr)
    s.cpu_cache_mb = std::strtoull(mb, nullptr, 10);
  if (const char* file = std::getenv("LTGBERT_PROFILE_TRACE"); file != nullptr) s.profile_trace = file;
  if (const char* call = std::getenv("LTGBERT_PROFILE_CALL"); call != nullptr)
    s.profile_call = std::strtol(call, nullptr, 10);
  return s;
}

}  // namespace

const Settings& GetSettings() {
  static const Settings settings = Read();
  return settings;
}

}  // namespace ltgbert
