// Functions of the addon that make starting weights for a model.
#pragma once

#include <napi.h>

namespace ltgbert::binding {

// cooccurrenceEmbeddings(ids, offsets, options) -> Promise<{ stateDict, documents, pairs }>:
// word vectors from document co-occurrence (init/cooccurrence.h), as a
// StateDict holding options.key, scaled to the standard deviation of that
// key's tensor in options.reference (a StateDict), whose rows for the ids
// in options.keep are kept as they are.
Napi::Value CooccurrenceEmbeddings(const Napi::CallbackInfo& info);

}  // namespace ltgbert::binding
