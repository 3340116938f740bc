// The one async pattern of the addon: an AsyncWorker that settles a promise.
// Inputs are copied into members on the main thread, Execute() runs on a libuv
// pool thread and makes no N-API call, and Resolve() builds the JS result back
// on the main thread. A failure is recorded as a negative errno + syscall and
// becomes a system-style Error (see errors.h) when the promise is rejected.
#pragma once

#include <napi.h>

#include "common/errors.h"

namespace ib {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* resource_name)
      : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Main thread: queue the work and hand out its promise.
  Napi::Promise QueuePromise() {
    Queue();
    return deferred_.Promise();
  }

 protected:
  // Worker thread: remember the first failure; Execute should return after it.
  bool Fail(int err, const char* syscall, std::string detail = "") {
    if (!failure_) {
      failure_.err = err;
      failure_.syscall = syscall;
      failure_.detail = std::move(detail);
    }
    return false;
  }
  // Worker thread: a failure of a local file call, named by its path.
  bool FailPath(int err, const char* syscall, const std::string& path, std::string detail = "") {
    if (!failure_) failure_.path = path;
    return Fail(err, syscall, std::move(detail));
  }
  void AddDetail(const std::string& more) {
    failure_.detail += failure_.detail.empty() ? more : "; " + more;
  }
  bool Failed() const { return static_cast<bool>(failure_); }

  // Main thread, just before a successful resolve (e.g. a last progress report).
  virtual void BeforeResolve(Napi::Env env) {}

  // Main thread: the resolved value. Defaults to undefined.
  virtual Napi::Value Resolve(Napi::Env env) { return env.Undefined(); }

  ErrorContext context_;

 private:
  void OnOK() override {
    // When the environment is being torn down (worker thread terminated,
    // process exiting) N-API calls fail and throw; nobody can observe the
    // promise any more, so those failures are dropped instead of aborting.
    try {
      Napi::HandleScope scope(Env());
      Settle();
    } catch (const Napi::Error&) {
    }
  }

  void Settle() {
    Napi::Env env = Env();
    if (failure_) {
      deferred_.Reject(MakeError(env, failure_, context_).Value());
      return;
    }
    Napi::Value value;
    try {
      BeforeResolve(env);
      value = Resolve(env);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(value);
  }

  // Only reached through SetError (an exception escaping Execute).
  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

  Napi::Promise::Deferred deferred_;
  Failure failure_;
};

}  // namespace ib
