// Runs native work on a libuv worker thread and settles a Promise with it.
// Execute() never touches N-API; every exception becomes a rejection with a
// stable `code`, so no C++ error can end the Node process.
#pragma once

#include <napi.h>

#include <functional>
#include <string>

namespace ltgbert::binding {

// The intra-op thread count every worker thread applies before it works
// (OpenMP's setting is per calling thread, so setting it once on the main
// thread would not reach the workers).
void SetThreadCount(int threads);
int ThreadCount();
void ApplyThreadCount();

// Work runs on one compute thread for the whole process, in the order it
// was queued; the Promise settles on the JS thread. One thread rather than
// libuv's pool: every call then reuses the same OpenMP thread team, where
// pool threads each keep their own team and the idle ones still spin on
// the cores the next call needs (about 10% of a forward on two cores).
class Task {
 public:
  using Work = std::function<void()>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;

  // keep_alive: the JS object (a model wrapper) that must outlive the work.
  static Napi::Promise Run(Napi::Env env, Napi::Object keep_alive, Work work, Resolve resolve);
  static Napi::Promise Run(Napi::Env env, Work work, Resolve resolve);
};

// Makes a JS Error with a `code` property.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

// Runs a synchronous body and turns any C++ exception into a thrown JS error
// with a code.
template <typename Body>
auto Guard(Napi::Env env, Body&& body) -> decltype(body());

// Maps the current exception to (code, message).
void DescribeException(std::exception_ptr error, std::string* code, std::string* message);

template <typename Body>
auto Guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    std::string code, message;
    DescribeException(std::current_exception(), &code, &message);
    throw MakeError(env, code, message);
  }
}

}  // namespace ltgbert::binding
