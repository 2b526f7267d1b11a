#include "binding/task.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <atomic>
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
    *code = ErrorCodeName(ErrorCode::kInternal);
    *message = e.what_without_backtrace();
  } catch (const std::bad_alloc&) {
    *code = ErrorCodeName(ErrorCode::kInternal);
    *message = "out of memory";
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

Task::Task(Napi::Env env, Work work, Resolve resolve)
    : Napi::AsyncWorker(env, "ltgbert"),
      deferred_(Napi::Promise::Deferred::New(env)),
      work_(std::move(work)),
      resolve_(std::move(resolve)) {}

Task::Task(Napi::Object keep_alive, Work work, Resolve resolve)
    : Task(keep_alive.Env(), std::move(work), std::move(resolve)) {
  keep_alive_ = Napi::Persistent(keep_alive);
}

Napi::Promise Task::Run(Napi::Env env, Napi::Object keep_alive, Work work, Resolve resolve) {
  (void)env;
  auto* task = new Task(keep_alive, std::move(work), std::move(resolve));
  auto promise = task->deferred_.Promise();
  task->Queue();
  return promise;
}

Napi::Promise Task::Run(Napi::Env env, Work work, Resolve resolve) {
  auto* task = new Task(env, std::move(work), std::move(resolve));
  auto promise = task->deferred_.Promise();
  task->Queue();
  return promise;
}

void Task::Execute() {
  try {
    ApplyThreadCount();
    work_();
  } catch (...) {
    std::string message;
    DescribeException(std::current_exception(), &code_, &message);
    SetError(message);
  }
}

void Task::OnOK() {
  Napi::HandleScope scope(Env());
  try {
    deferred_.Resolve(resolve_ ? resolve_(Env()) : Env().Undefined());
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (...) {
    std::string code, message;
    DescribeException(std::current_exception(), &code, &message);
    deferred_.Reject(MakeError(Env(), code, message).Value());
  }
}

void Task::OnError(const Napi::Error& error) {
  Napi::HandleScope scope(Env());
  deferred_.Reject(MakeError(Env(), code_, error.Message()).Value());
}

}  // namespace ltgbert::binding
