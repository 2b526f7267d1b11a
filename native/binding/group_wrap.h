// The JS class `ProcessGroup` of the addon: one rank's membership of a
// data-parallel group on c10d (train/distributed.h). Joining and every
// collective run on the compute thread; an optimizer made with the group
// averages its gradients over the ranks.
#pragma once

#include <napi.h>

#include <memory>

#include "train/distributed.h"

namespace ltgbert::binding {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The native side of a JS value, or null when it is not a ProcessGroup.
  static ProcessGroupWrap* From(Napi::Value value);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);

  // The joined group; throws LTGBERT_DISTRIBUTED before join() or after
  // shutdown().
  std::shared_ptr<train::ProcessGroup> Require(Napi::Env env) const;

 private:
  // join({ masterAddr, masterPort, rank, worldSize, timeoutMs, interfaces })
  //   -> Promise<{ rank, worldSize }>
  Napi::Value Join(const Napi::CallbackInfo& info);
  // allReduceSum(Float64Array) -> Promise<Float64Array>
  Napi::Value AllReduceSum(const Napi::CallbackInfo& info);
  // allGather(Float64Array) -> Promise<Float64Array[]>, in rank order
  Napi::Value AllGather(const Napi::CallbackInfo& info);
  // barrier() -> Promise<void>
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  // shutdown() -> Promise<void>
  Napi::Value Shutdown(const Napi::CallbackInfo& info);

  std::shared_ptr<train::ProcessGroup> group_;
  bool joining_ = false;
};

}  // namespace ltgbert::binding
