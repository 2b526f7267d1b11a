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

class Task : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;

  // keep_alive: the JS object (a model wrapper) that must outlive the work.
  static Napi::Promise Run(Napi::Env env, Napi::Object keep_alive, Work work, Resolve resolve);
  static Napi::Promise Run(Napi::Env env, Work work, Resolve resolve);

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  Task(Napi::Env env, Work work, Resolve resolve);
  Task(Napi::Object keep_alive, Work work, Resolve resolve);

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_alive_;  // released when the task is destroyed, on the main thread
  Work work_;
  Resolve resolve_;
  std::string code_;
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
