// Registers the addon's classes and functions; nothing else lives here.
#include <napi.h>

#include "binding/group_wrap.h"
#include "binding/init.h"
#include "binding/model_wrap.h"
#include "binding/optimizer_wrap.h"
#include "binding/state_dict_wrap.h"
#include "binding/system.h"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Model", ltgbert::binding::ModelWrap::Define(env));
  exports.Set("StateDict", ltgbert::binding::StateDictWrap::Define(env));
  exports.Set("Optimizer", ltgbert::binding::OptimizerWrap::Define(env));
  exports.Set("ProcessGroup", ltgbert::binding::ProcessGroupWrap::Define(env));
  exports.Set("readStateDict", Napi::Function::New<ltgbert::binding::ReadStateDict>(env, "readStateDict"));
  exports.Set("cooccurrenceEmbeddings",
              Napi::Function::New<ltgbert::binding::CooccurrenceEmbeddings>(env, "cooccurrenceEmbeddings"));
  ltgbert::binding::DefineSystemFunctions(env, exports);
  return exports;
}

NODE_API_MODULE(ltgbert, Init)
