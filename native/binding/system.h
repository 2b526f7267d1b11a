// Module-level functions of the addon: threads, build and device facts, and
// reading a checkpoint's table of contents.
#pragma once

#include <napi.h>

namespace ltgbert::binding {

void DefineSystemFunctions(Napi::Env env, Napi::Object exports);

}  // namespace ltgbert::binding
