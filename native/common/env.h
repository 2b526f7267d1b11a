// Switches read from the environment, once per process by each caller.
#pragma once

#include <cstdlib>
#include <cstring>

namespace ltgbert {

// A yes/no switch: unset or empty gives `otherwise`, "0" no, anything else yes.
inline bool EnvFlag(const char* name, bool otherwise) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return otherwise;
  return std::strcmp(value, "0") != 0;
}

}  // namespace ltgbert
