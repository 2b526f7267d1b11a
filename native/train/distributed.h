// Data parallelism on libtorch's c10d, the engine under PyTorch's
// DistributedDataParallel: a TCPStore rendezvous (torchrun's MASTER_ADDR,
// MASTER_PORT, RANK, WORLD_SIZE), a Gloo process group, and gradients
// averaged with c10d's all-reduce in buckets that start during the backward
// pass. (DDP does that with c10d's Reducer, which cannot be built against
// Debian's libtorch-dev: its header includes distributed-autograd headers
// that the package leaves out; the buckets here follow the same rules.)
//
// Builds whose libtorch lacks c10d or Gloo's headers compile this file to
// stubs that fail with LTGBERT_DISTRIBUTED (see LTGBERT_WITH_DISTRIBUTED).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/optimizer.h"

namespace ltgbert::train {

struct GroupOptions {
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int rank = 0;
  int world_size = 1;
  // Collectives and the rendezvous fail after this long without progress:
  // how long a rank that died or hangs can keep the others waiting.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Gloo's network interfaces (GLOO_SOCKET_IFNAME, comma-separated); empty:
  // the interface that the host name resolves to.
  std::string interfaces;
  // What every rank must agree on (model sizes, seeds, batch shape rules):
  // compared with rank 0's at the rendezvous.
  std::string fingerprint;
};

class ProcessGroup;

// Loading: puts rank `rank`'s random state (saved by GatherRandomStates) in
// place of rank 0's and drops the other ranks' entries. A state saved by
// fewer ranks than `rank` needs fails with LTGBERT_DISTRIBUTED (resume
// with the world size it was saved with).
void SelectRandomState(int rank, io::TensorList& tensors, const std::string& source);

// The seed of rank `rank`'s dropout stream: the run's seed on rank 0, a
// seed mixed from both elsewhere.
uint64_t RankSeed(uint64_t seed, int rank);

// Whether this build has c10d with Gloo.
bool DistributedAvailable();

// Joins the group: blocks until all `world_size` ranks have arrived (or the
// timeout passes), then checks that every rank's fingerprint equals rank 0's.
std::shared_ptr<ProcessGroup> JoinProcessGroup(const GroupOptions& options);

int Rank(const ProcessGroup& group);
int WorldSize(const ProcessGroup& group);

// Element-wise sum of a float64 vector over the ranks (every rank gets it).
std::vector<double> AllReduceSum(ProcessGroup& group, const std::vector<double>& values, const std::string& what);

// Each rank's vector, in rank order (the vectors may differ in length).
std::vector<std::vector<double>> AllGather(ProcessGroup& group, const std::vector<double>& values,
                                           const std::string& what);

void Barrier(ProcessGroup& group, const std::string& what);

// Leaves the group: later calls fail with LTGBERT_DISTRIBUTED.
void Shutdown(ProcessGroup& group);

// The data-parallel side of an optimizer: its parameters' gradient buckets,
// made at the first step (after rank 0's weights are broadcast, as DDP does
// when it is made).
class DataParallel {
 public:
  // check_every: compare the ranks' weights every this many steps (0: never).
  DataParallel(std::shared_ptr<ProcessGroup> group, int64_t check_every);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Before the first step: checks that every rank has the same parameter
  // shapes, copies rank 0's weights to the others and builds the buckets.
  void Start(const std::vector<Parameter>& params);
  // The sum over ranks of a step's loss-weighting count.
  double SumOverRanks(double value, const std::string& what);
  // Before the step's last backward pass: from then on each parameter's
  // gradient goes into its bucket as autograd produces it, and a full
  // bucket starts its all-reduce while the backward pass goes on.
  void BeforeLastBackward();
  // After the step's last backward pass: the buckets not sent yet are sent,
  // and every gradient becomes its mean over the ranks (a parameter without
  // one counts as zeros).
  void ReduceGradients();
  // After the update: every check_every steps, fails when the ranks'
  // weights are not bit-identical.
  void AfterStep(const std::vector<Parameter>& params, int64_t step);

  // Saving: every rank's random state (each rank draws its own dropout
  // masks), gathered for rank 0 as "rng_state.rank<r>" and
  // "dropout_stream.rank<r>" for r >= 1; empty on the other ranks. Every
  // rank must call it.
  io::TensorList GatherRandomStates(AdamW& optimizer);

  int rank() const;
  int world_size() const;
  ProcessGroup& group() { return *group_; }

 private:
  struct Impl;
  std::shared_ptr<ProcessGroup> group_;
  int64_t check_every_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ltgbert::train
