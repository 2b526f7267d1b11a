#include "train/distributed.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"

#ifdef LTGBERT_WITH_DISTRIBUTED
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#endif

namespace ltgbert::train {

namespace {

std::string RankKey(const char* key, int rank) { return std::string(key) + ".rank" + std::to_string(rank); }

}  // namespace

void SelectRandomState(int rank, io::TensorList& tensors, const std::string& source) {
  io::TensorList kept;
  torch::Tensor rng, stream;
  int saved_ranks = 1;
  for (auto& t : tensors) {
    const auto mark = t.name.find(".rank");
    if (mark == std::string::npos) {
      kept.push_back(t);
      continue;
    }
    saved_ranks = std::max(saved_ranks, std::atoi(t.name.c_str() + mark + 5) + 1);
    if (t.name == RankKey(kRngStateKey, rank)) rng = t.tensor;
    if (t.name == RankKey(kDropoutStreamKey, rank)) stream = t.tensor;
  }
  if (rank > 0) {
    if (!rng.defined() || !stream.defined()) {
      Fail(ErrorCode::kDistributed, source, ": holds the random state of ", saved_ranks, " rank",
           saved_ranks > 1 ? "s" : "", ", none for rank ", rank, ": resume with the world size it was saved with");
    }
    for (auto& t : kept) {
      if (t.name == kRngStateKey) t.tensor = rng;
      if (t.name == kDropoutStreamKey) t.tensor = stream;
    }
  }
  tensors = std::move(kept);
}

uint64_t RankSeed(uint64_t seed, int rank) {
  if (rank == 0) return seed;
  // splitmix64 of the seed and the rank.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(rank + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

#ifdef LTGBERT_WITH_DISTRIBUTED
namespace {

constexpr const char* kPrefix = "ltgbert/";
// DDP's bucket sizes: a small first bucket, so that communication starts
// early in the backward pass, then 25 MiB.
constexpr size_t kFirstBucketBytes = 1024 * 1024;
constexpr size_t kBucketBytes = 25 * 1024 * 1024;
constexpr size_t kBroadcastBytes = 256 * 1024 * 1024;
constexpr auto kBeat = std::chrono::milliseconds(500);

std::string FirstLine(const std::string& text) {
  // c10::Error's what() carries a C++ backtrace after the message.
  auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string Text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

}  // namespace

class ProcessGroup {
 public:
  ProcessGroup(const GroupOptions& options) : options_(options) {}
  ~ProcessGroup() { Stop(); }

  void Join() {
    const auto& o = options_;
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(o.master_port);
    store_options.isServer = o.rank == 0;
    store_options.numWorkers = o.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = o.timeout;
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_options);
    } catch (const std::exception& e) {
      Fail(ErrorCode::kDistributed, "rank ", o.rank, " of ", o.world_size, ": rendezvous at ", o.master_addr, ":",
           o.master_port, " failed: ", FirstLine(e.what()),
           " (check MASTER_ADDR, MASTER_PORT and WORLD_SIZE on every rank, and that rank 0 runs)");
    }
    // A group whose ranks disagree on its size would wait for a rank that
    // never comes: compare with rank 0's first.
    Guarded("rendezvous", [&]() {
      store_->set(Key("world_size/" + std::to_string(o.rank)), Bytes(std::to_string(o.world_size)));
      const std::string root = Text(store_->get(Key("world_size/0")));
      if (root != std::to_string(o.world_size)) {
        Fail(ErrorCode::kDistributed, "rank ", o.rank, ": WORLD_SIZE is ", o.world_size, " here but ", root,
             " on rank 0");
      }
    });
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(o.timeout);
    Guarded("creating the Gloo group", [&]() {
      if (o.interfaces.empty()) {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      } else {
        std::stringstream names(o.interfaces);
        for (std::string name; std::getline(names, name, ',');) {
          if (!name.empty()) gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
        }
      }
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, o.rank, o.world_size, gloo_options);
    });
    StartHeartbeat();
  }

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  c10::intrusive_ptr<c10d::ProcessGroup> group(const std::string& what) {
    if (!group_) Fail(ErrorCode::kDistributed, "rank ", rank(), ": ", what, ": the process group was shut down");
    return group_;
  }

  // Runs a collective; any failure becomes LTGBERT_DISTRIBUTED naming this
  // rank, the operation and, where the heartbeats tell, the rank at fault.
  template <typename Body>
  auto Guarded(const std::string& what, Body&& body) -> decltype(body()) {
    try {
      return body();
    } catch (const Error& e) {
      throw;
    } catch (const std::exception& e) {
      Fail(ErrorCode::kDistributed, "rank ", rank(), " of ", world_size(), ": ", what, " failed: ", FirstLine(e.what()),
           Culprit());
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(beat_mutex_);
      stopping_ = true;
    }
    beat_wake_.notify_all();
    if (beat_thread_.joinable()) beat_thread_.join();
    group_.reset();
    beat_store_.reset();
    store_.reset();
  }

 private:
  std::string Key(const std::string& name) const { return std::string(kPrefix) + name; }

  // Each rank counts up a key of its own in the store, on a connection of
  // its own, twice a second; a rank whose count stands still is dead or
  // stopped.
  void StartHeartbeat() {
    c10d::TCPStoreOptions beat_options;
    beat_options.port = static_cast<uint16_t>(options_.master_port);
    beat_options.isServer = false;
    beat_options.waitWorkers = false;
    beat_options.timeout = std::chrono::milliseconds(5000);
    beat_store_ = c10::make_intrusive<c10d::TCPStore>(options_.master_addr, beat_options);
    beat_thread_ = std::thread([this]() {
      const std::string key = Key("beat/" + std::to_string(rank()));
      std::unique_lock<std::mutex> lock(beat_mutex_);
      while (!stopping_) {
        try {
          std::lock_guard<std::mutex> store_lock(beat_store_mutex_);
          beat_store_->add(key, 1);
        } catch (...) {
          return;  // the store is gone: rank 0 ended
        }
        beat_wake_.wait_for(lock, kBeat, [this]() { return stopping_; });
      }
    });
  }

  // What the heartbeats tell of a failed collective, as " (...)". The first
  // rank to look leaves its finding in the store, for the ranks that learn
  // of the failure only when that rank leaves in turn.
  std::string Culprit() {
    if (!beat_store_) return "";
    const std::string failure_key = Key("failure");
    try {
      auto found = [&]() -> std::string {
        std::lock_guard<std::mutex> store_lock(beat_store_mutex_);  // one request at a time on the connection
        return beat_store_->check({failure_key}) ? Text(beat_store_->get(failure_key)) : "";
      };
      if (auto known = found(); !known.empty()) return " (" + known + ")";
      auto counts = [&]() {
        std::vector<int64_t> out;
        std::lock_guard<std::mutex> store_lock(beat_store_mutex_);
        for (int r = 0; r < world_size(); ++r) out.push_back(beat_store_->add(Key("beat/" + std::to_string(r)), 0));
        return out;
      };
      auto before = counts();
      std::this_thread::sleep_for(kBeat * 3);
      auto after = counts();
      std::vector<int> silent;
      for (int r = 0; r < world_size(); ++r) {
        if (r != rank() && after[r] == before[r]) silent.push_back(r);
      }
      if (silent.empty()) return " (every rank is still alive: one may be stuck outside the collective)";
      if (auto known = found(); !known.empty()) return " (" + known + ")";
      std::ostringstream out;
      out << "rank";
      if (silent.size() > 1) out << "s";
      for (size_t i = 0; i < silent.size(); ++i) out << (i ? ", " : " ") << silent[i];
      out << " stopped responding: exited, killed or stopped";
      {
        std::lock_guard<std::mutex> store_lock(beat_store_mutex_);
        beat_store_->set(failure_key, Bytes(out.str()));
      }
      return " (" + out.str() + ")";
    } catch (...) {
      return " (the rendezvous store on rank 0 is gone: rank 0 exited or was killed)";
    }
  }

  GroupOptions options_;
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<c10d::TCPStore> beat_store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::thread beat_thread_;
  std::mutex beat_mutex_;
  std::mutex beat_store_mutex_;
  std::condition_variable beat_wake_;
  bool stopping_ = false;
};

bool DistributedAvailable() { return true; }

std::shared_ptr<ProcessGroup> JoinProcessGroup(const GroupOptions& options) {
  if (options.world_size < 1)
    Fail(ErrorCode::kInvalidArgument, "worldSize: expected at least 1, got ", options.world_size);
  if (options.rank < 0 || options.rank >= options.world_size) {
    Fail(ErrorCode::kInvalidArgument, "rank: expected 0 to ", options.world_size - 1, ", got ", options.rank);
  }
  if (options.master_port < 1 || options.master_port > 65535) {
    Fail(ErrorCode::kInvalidArgument, "masterPort: expected 1 to 65535, got ", options.master_port);
  }
  auto group = std::make_shared<ProcessGroup>(options);
  group->Join();
  return group;
}

int Rank(const ProcessGroup& group) { return group.rank(); }
int WorldSize(const ProcessGroup& group) { return group.world_size(); }

std::vector<double> AllReduceSum(ProcessGroup& group, const std::vector<double>& values, const std::string& what) {
  auto pg = group.group(what);
  return group.Guarded(what, [&]() {
    auto tensor = torch::tensor(values, torch::kFloat64);
    std::vector<at::Tensor> tensors{tensor};
    pg->allreduce(tensors)->wait();
    return std::vector<double>(tensor.data_ptr<double>(), tensor.data_ptr<double>() + tensor.numel());
  });
}

std::vector<std::vector<double>> AllGather(ProcessGroup& group, const std::vector<double>& values,
                                           const std::string& what) {
  auto pg = group.group(what);
  return group.Guarded(what, [&]() {
    const int world = group.world_size();
    // Lengths first, then every vector padded to the longest.
    auto gather = [&](const at::Tensor& input) {
      std::vector<std::vector<at::Tensor>> outputs(1);
      for (int r = 0; r < world; ++r) outputs[0].push_back(torch::empty_like(input));
      std::vector<at::Tensor> inputs{input};
      pg->allgather(outputs, inputs)->wait();
      return outputs[0];
    };
    auto lengths = gather(torch::tensor({static_cast<int64_t>(values.size())}, torch::kInt64));
    int64_t longest = 0;
    for (const auto& l : lengths) longest = std::max(longest, l.item<int64_t>());
    auto padded = torch::zeros({longest}, torch::kFloat64);
    std::copy(values.begin(), values.end(), padded.data_ptr<double>());
    auto parts = gather(padded);
    std::vector<std::vector<double>> out;
    for (int r = 0; r < world; ++r) {
      const double* data = parts[r].data_ptr<double>();
      out.emplace_back(data, data + lengths[r].item<int64_t>());
    }
    return out;
  });
}

void Barrier(ProcessGroup& group, const std::string& what) {
  auto pg = group.group(what);
  group.Guarded(what, [&]() { pg->barrier()->wait(); });
}

void Shutdown(ProcessGroup& group) { group.Stop(); }

// The gradients travel in buckets of about kBucketBytes, each one flat
// buffer all-reduced (summed) as a single tensor. During the step's last
// backward pass a hook on each parameter copies its gradient (plus what
// earlier micro-batches accumulated) into its bucket as soon as autograd
// has it; a full bucket starts its all-reduce at once, on Gloo's threads,
// while the backward pass goes on with the others. Buckets start in their
// order only, the same on every rank (as DDP's Reducer does), since Gloo
// pairs the ranks' collectives by the order they are issued in.
struct DataParallel::Impl {
  std::vector<at::Tensor> tensors;  // the distinct parameters, in the optimizer's order
  std::vector<std::string> names;
  std::vector<std::vector<size_t>> buckets;  // indices into tensors, last parameters first
  std::vector<at::Tensor> flat;              // one buffer a bucket
  std::vector<size_t> bucket_of;             // parameter -> its bucket
  std::vector<int64_t> offset_of;            // parameter -> where it starts in its bucket
  std::vector<unsigned> hooks;               // parameter -> its hook, removed at the end
  bool started = false;

  // The backward pass in flight (armed), what it has filled and sent.
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  bool armed = false;
  std::vector<bool> filled;
  std::vector<size_t> missing;  // per bucket: parameters not filled yet
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  size_t launched = 0;
  std::exception_ptr error;

  at::Tensor Slot(size_t k) { return flat[bucket_of[k]].narrow(0, offset_of[k], tensors[k].numel()); }

  void Arm() {
    filled.assign(tensors.size(), false);
    missing.clear();
    for (const auto& bucket : buckets) missing.push_back(bucket.size());
    works.assign(buckets.size(), {});
    launched = 0;
    error = nullptr;
    armed = true;
  }

  // Called by autograd with parameter k's gradient of this backward pass,
  // before it is added to k's .grad.
  void OnGradient(size_t k, const at::Tensor& grad) {
    if (!armed || error || filled[k]) return;
    try {
      torch::NoGradGuard no_grad;
      auto slot = Slot(k);
      const at::Tensor& accumulated = tensors[k].grad();
      if (accumulated.defined()) {
        at::add_out(slot, accumulated.reshape({-1}), grad.reshape({-1}));
      } else {
        slot.copy_(grad.reshape({-1}));
      }
      filled[k] = true;
      --missing[bucket_of[k]];
      LaunchReady();
    } catch (...) {
      error = std::current_exception();
    }
  }

  void LaunchReady() {
    while (launched < buckets.size() && missing[launched] == 0) {
      std::vector<at::Tensor> one{flat[launched]};
      works[launched] = pg->allreduce(one);
      ++launched;
    }
  }
};

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, int64_t check_every)
    : group_(std::move(group)), check_every_(check_every), impl_(std::make_unique<Impl>()) {}

DataParallel::~DataParallel() {
  // The parameters outlive this object (the model trains on with another
  // optimizer, or none): their hooks must not.
  for (size_t k = 0; k < impl_->hooks.size(); ++k) {
    try {
      impl_->tensors[k].remove_hook(impl_->hooks[k]);
    } catch (...) {
    }
  }
}

int DataParallel::rank() const { return group_->rank(); }
int DataParallel::world_size() const { return group_->world_size(); }

void DataParallel::Start(const std::vector<Parameter>& params) {
  if (impl_->started) return;
  std::unordered_set<const void*> seen;
  for (const auto& p : params) {
    if (!seen.insert(p.value.unsafeGetTensorImpl()).second) continue;
    impl_->tensors.push_back(p.value);
    impl_->names.push_back(p.name);
  }
  // Every rank must train the same parameters: their count and sizes.
  std::vector<double> shapes{static_cast<double>(impl_->tensors.size())};
  for (const auto& t : impl_->tensors) shapes.push_back(static_cast<double>(t.numel()));
  auto all = AllGather(*group_, shapes, "comparing the ranks' parameters");
  for (int r = 1; r < world_size(); ++r) {
    if (all[r] == all[0]) continue;
    if (all[r].size() != all[0].size() || all[r][0] != all[0][0]) {
      Fail(ErrorCode::kDistributed, "rank ", rank(), ": rank ", r, " trains ", static_cast<int64_t>(all[r][0]),
           " parameters and rank 0 ", static_cast<int64_t>(all[0][0]), ": every rank must load the same model");
    }
    for (size_t i = 1; i < all[0].size(); ++i) {
      if (all[r][i] != all[0][i]) {
        Fail(ErrorCode::kDistributed, "rank ", rank(), ": ", impl_->names[i - 1], " has ",
             static_cast<int64_t>(all[r][i]), " elements on rank ", r, " and ", static_cast<int64_t>(all[0][i]),
             " on rank 0: every rank must load the same model");
      }
    }
  }
  impl_->pg = group_->group("starting data parallelism");
  // As DDP does when it is made: every rank starts from rank 0's weights.
  group_->Guarded("copying rank 0's weights to every rank", [&]() {
    torch::NoGradGuard no_grad;
    c10d::broadcast_coalesced(impl_->pg, impl_->tensors, kBroadcastBytes, 0);
  });
  // Buckets in reverse order, the order in which backward produces the
  // gradients; the first one small, so that sending starts early.
  size_t limit = kFirstBucketBytes, bytes = 0;
  for (size_t k = impl_->tensors.size(); k-- > 0;) {
    const auto& t = impl_->tensors[k];
    if (impl_->buckets.empty() || bytes >= limit) {
      if (!impl_->buckets.empty()) limit = kBucketBytes;
      impl_->buckets.emplace_back();
      bytes = 0;
    }
    impl_->buckets.back().push_back(k);
    bytes += t.numel() * t.element_size();
  }
  impl_->bucket_of.assign(impl_->tensors.size(), 0);
  impl_->offset_of.assign(impl_->tensors.size(), 0);
  for (size_t b = 0; b < impl_->buckets.size(); ++b) {
    int64_t numel = 0;
    for (size_t k : impl_->buckets[b]) {
      impl_->bucket_of[k] = b;
      impl_->offset_of[k] = numel;
      numel += impl_->tensors[k].numel();
    }
    impl_->flat.push_back(torch::empty({numel}, impl_->tensors[impl_->buckets[b][0]].options()));
  }
  Impl* impl = impl_.get();
  for (size_t k = 0; k < impl_->tensors.size(); ++k) {
    impl_->hooks.push_back(
        impl_->tensors[k].register_hook([impl, k](const at::Tensor& grad) { impl->OnGradient(k, grad); }));
  }
  impl_->started = true;
}

void DataParallel::BeforeLastBackward() { impl_->Arm(); }

void DataParallel::ReduceGradients() {
  group_->group("averaging the gradients");
  group_->Guarded("averaging the gradients", [&]() {
    Impl& impl = *impl_;
    impl.armed = false;
    if (impl.error) std::rethrow_exception(impl.error);
    torch::NoGradGuard no_grad;
    // What the hooks did not fill (a parameter without a gradient in this
    // backward pass, or every one when BeforeLastBackward was not called):
    // its accumulated gradient, or zeros.
    if (impl.filled.size() != impl.tensors.size()) {
      impl.Arm();
      impl.armed = false;
    }
    for (size_t k = 0; k < impl.tensors.size(); ++k) {
      if (impl.filled[k]) continue;
      const at::Tensor& grad = impl.tensors[k].grad();
      if (grad.defined()) {
        impl.Slot(k).copy_(grad.reshape({-1}));
      } else {
        impl.Slot(k).zero_();
      }
      impl.filled[k] = true;
      --impl.missing[impl.bucket_of[k]];
    }
    impl.LaunchReady();
    const double scale = 1.0 / static_cast<double>(world_size());
    for (size_t b = 0; b < impl.buckets.size(); ++b) {
      impl.works[b]->wait();
      impl.flat[b].mul_(scale);
      for (size_t k : impl.buckets[b]) {
        auto& t = impl.tensors[k];
        auto slot = impl.Slot(k).view(t.sizes());
        if (t.grad().defined()) {
          t.mutable_grad().copy_(slot);
        } else {
          t.mutable_grad() = slot.clone();
        }
      }
    }
  });
}

io::TensorList DataParallel::GatherRandomStates(AdamW& optimizer) {
  // Each rank's generator state and dropout stream, as bytes.
  torch::Tensor rng = optimizer.rng_state().contiguous();
  std::vector<double> bytes(rng.data_ptr<uint8_t>(), rng.data_ptr<uint8_t>() + rng.numel());
  const auto stream = optimizer.dropout_stream();
  for (uint64_t word : {stream.seed, stream.offset}) {
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<double>((word >> (8 * b)) & 0xFF));
  }
  auto all = AllGather(*group_, bytes, "gathering the ranks' random states");
  io::TensorList out;
  if (rank() != 0) return out;
  for (int r = 1; r < world_size(); ++r) {
    const auto& v = all[r];
    const int64_t n = static_cast<int64_t>(v.size()) - 16;
    if (n != rng.numel())
      Fail(ErrorCode::kDistributed, "rank ", r, "'s random state has ", n, " bytes, rank 0's ", rng.numel());
    auto state = torch::empty({n}, torch::kUInt8);
    for (int64_t i = 0; i < n; ++i) state.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(v[i]);
    uint64_t words[2] = {0, 0};
    for (int w = 0; w < 2; ++w) {
      for (int b = 0; b < 8; ++b) words[w] |= static_cast<uint64_t>(v[n + 8 * w + b]) << (8 * b);
    }
    out.push_back({RankKey(kRngStateKey, r), state});
    out.push_back({RankKey(kDropoutStreamKey, r),
                   torch::tensor({static_cast<int64_t>(words[0]), static_cast<int64_t>(words[1])}, torch::kInt64)});
  }
  return out;
}

double DataParallel::SumOverRanks(double value, const std::string& what) {
  return AllReduceSum(*group_, {value}, what)[0];
}

void DataParallel::AfterStep(const std::vector<Parameter>& params, int64_t step) {
  if (check_every_ <= 0 || step % check_every_ != 0) return;
  // Each parameter's float32 bits summed as integers: exact and independent
  // of the thread count, so equal weights give equal sums everywhere.
  std::vector<double> sums;
  for (const auto& t : impl_->tensors) {
    const int64_t sum = t.detach().contiguous().view(torch::kInt32).sum(torch::kInt64).item<int64_t>();
    sums.push_back(static_cast<double>(sum & ((int64_t{1} << 52) - 1)));
  }
  auto all = AllGather(*group_, sums, "comparing the ranks' weights at step " + std::to_string(step));
  for (int r = 1; r < world_size(); ++r) {
    for (size_t i = 0; i < sums.size(); ++i) {
      if (all[r][i] != all[0][i]) {
        Fail(ErrorCode::kDistributed, "rank ", rank(), ": at step ", step, " the weights of ", impl_->names[i],
             " on rank ", r, " differ from rank 0's: the ranks drifted apart");
      }
    }
  }
}

#else  // no c10d in this build

class ProcessGroup {};

namespace {
[[noreturn]] void Unavailable() {
  Fail(ErrorCode::kDistributed,
       "this build of ltgbert has no data parallelism: its libtorch lacks c10d with Gloo, or Gloo's headers were "
       "missing when it was built (Debian/Ubuntu: apt-get install libgloo-dev, then rebuild)");
}
}  // namespace

bool DistributedAvailable() { return false; }
std::shared_ptr<ProcessGroup> JoinProcessGroup(const GroupOptions&) { Unavailable(); }
int Rank(const ProcessGroup&) { return 0; }
int WorldSize(const ProcessGroup&) { return 1; }
std::vector<double> AllReduceSum(ProcessGroup&, const std::vector<double>&, const std::string&) { Unavailable(); }
std::vector<std::vector<double>> AllGather(ProcessGroup&, const std::vector<double>&, const std::string&) {
  Unavailable();
}
void Barrier(ProcessGroup&, const std::string&) { Unavailable(); }
void Shutdown(ProcessGroup&) {}

struct DataParallel::Impl {};
DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, int64_t check_every)
    : group_(std::move(group)), check_every_(check_every) {}
DataParallel::~DataParallel() = default;
int DataParallel::rank() const { return 0; }
int DataParallel::world_size() const { return 1; }
void DataParallel::Start(const std::vector<Parameter>&) { Unavailable(); }
double DataParallel::SumOverRanks(double, const std::string&) { Unavailable(); }
void DataParallel::ReduceGradients() { Unavailable(); }
void DataParallel::BeforeLastBackward() { Unavailable(); }
void DataParallel::AfterStep(const std::vector<Parameter>&, int64_t) { Unavailable(); }
io::TensorList DataParallel::GatherRandomStates(AdamW&) { Unavailable(); }

#endif

}  // namespace ltgbert::train
