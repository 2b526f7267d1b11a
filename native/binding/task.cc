#include "binding/task.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <thread>

#include "common/error.h"

namespace ltgbert::binding {
namespace {

std::atomic<int> g_threads{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};

}  // namespace

void SetThreadCount(int threads) { g_threads = threads; }
int ThreadCount() { return g_threads; }

void ApplyThreadCount() {
  const int wanted = g_threads;
  if (at::get_num_threads() != wanted) at::set_num_threads(wanted);
}

void DescribeException(std::exception_ptr error, std::string* code, std::string* message) {
  try {
    std::rethrow_exception(error);
  } catch (const ltgbert::Error& e) {
    *code = e.code_name();
    *message = e.what();
  } catch (const c10::Error& e) {
    // An allocation libtorch could not make (a batch too large for the
    // machine) is the caller's to fix, not a bug.
    const std::string text = e.what_without_backtrace();
    const bool memory = text.find("not enough memory") != std::string::npos ||
                        text.find("can't allocate memory") != std::string::npos ||
                        text.find("out of memory") != std::string::npos;
    *code = ErrorCodeName(memory ? ErrorCode::kOutOfMemory : ErrorCode::kInternal);
    *message = memory ? "out of memory: " + text : text;
  } catch (const std::bad_alloc&) {
    *code = ErrorCodeName(ErrorCode::kOutOfMemory);
    *message = "out of memory: an allocation failed (a smaller batch or model, or more memory)";
  } catch (const std::exception& e) {
    *code = ErrorCodeName(ErrorCode::kInternal);
    *message = e.what();
  } catch (...) {
    *code = ErrorCodeName(ErrorCode::kInternal);
    *message = "unknown native error";
  }
}

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

namespace {

class ComputeThread {
 public:
  static ComputeThread& Get() {
    // Never destroyed: it may still be running a job while the process exits.
    static ComputeThread* thread = new ComputeThread();
    return *thread;
  }

  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  ComputeThread() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

struct TaskState {
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference keep_alive;
  Task::Work work;
  Task::Resolve resolve;
  napi_threadsafe_function done = nullptr;
  std::string code;
  std::string message;
  bool failed = false;
};

// On the JS thread, once the work is done: settle the Promise.
void Settle(napi_env raw_env, napi_value /*callback*/, void* context, void* /*data*/) {
  std::unique_ptr<TaskState> state(static_cast<TaskState*>(context));
  if (raw_env == nullptr) {  // the environment is shutting down: no JS to touch
    state->keep_alive.SuppressDestruct();
    return;
  }
  Napi::Env env(raw_env);
  Napi::HandleScope scope(env);
  if (state->failed) {
    state->deferred.Reject(MakeError(env, state->code, state->message).Value());
    return;
  }
  try {
    state->deferred.Resolve(state->resolve ? state->resolve(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    state->deferred.Reject(e.Value());
  } catch (...) {
    std::string code, message;
    DescribeException(std::current_exception(), &code, &message);
    state->deferred.Reject(MakeError(env, code, message).Value());
  }
}

Napi::Promise Queue(Napi::Env env, std::unique_ptr<TaskState> state) {
  Napi::Promise promise = state->deferred.Promise();
  napi_value name;
  NAPI_THROW_IF_FAILED(env, napi_create_string_utf8(env, "ltgbert", NAPI_AUTO_LENGTH, &name), promise);
  TaskState* raw = state.get();
  NAPI_THROW_IF_FAILED(
      env,
      napi_create_threadsafe_function(env, nullptr, nullptr, name, /*max_queue_size=*/0,
                                      /*initial_thread_count=*/1, nullptr, nullptr, raw, Settle, &raw->done),
      promise);
  state.release();  // owned by the job until Settle takes it back
  ComputeThread::Get().Post([raw] {
    try {
      ApplyThreadCount();
      raw->work();
    } catch (...) {
      raw->failed = true;
      DescribeException(std::current_exception(), &raw->code, &raw->message);
    }
    napi_threadsafe_function done = raw->done;
    napi_call_threadsafe_function(done, nullptr, napi_tsfn_blocking);
    napi_release_threadsafe_function(done, napi_tsfn_release);
  });
  return promise;
}

}  // namespace

Napi::Promise Task::Run(Napi::Env env, Napi::Object keep_alive, Work work, Resolve resolve) {
  auto state = std::unique_ptr<TaskState>(new TaskState{Napi::Promise::Deferred::New(env), Napi::Persistent(keep_alive),
                                                        std::move(work), std::move(resolve)});
  return Queue(env, std::move(state));
}

Napi::Promise Task::Run(Napi::Env env, Work work, Resolve resolve) {
  auto state = std::unique_ptr<TaskState>(
      new TaskState{Napi::Promise::Deferred::New(env), Napi::ObjectReference(), std::move(work), std::move(resolve)});
  return Queue(env, std::move(state));
}

}  // namespace ltgbert::binding
