// What every asynchronous operation of the addon is, whichever threads run it:
// inputs copied into members on the main thread, Execute() on another thread
// with no N-API call, then, back on the main thread, BeforeResolve() and
// Resolve() build the result. A failure is recorded as a negative errno +
// syscall and becomes a system-style Error (see errors.h) on rejection.
#pragma once

#include <napi.h>

#include <string>

#include "common/errors.h"

namespace ib {

class Work {
 public:
  virtual ~Work() = default;

  // Any thread, when the environment that queued the work is gone (a worker
  // thread terminated mid-operation): the object is leaked on purpose (its
  // N-API references may only be freed on a main thread that no longer
  // exists), so it drops every plain C++ resource it holds here: buffers,
  // shared connection state. Keeps the leak to a few hundred bytes.
  virtual void Abandon() {}

  // Off the main thread.
  virtual void Execute() = 0;

  // Main thread: settles `deferred` with the outcome. Never throws: when the
  // environment is being torn down (worker thread terminated, process
  // exiting) N-API calls fail, nobody can observe the promise any more, and
  // those failures are dropped instead of aborting the process.
  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    try {
      Napi::HandleScope scope(env);
      if (failure_) {
        deferred.Reject(MakeError(env, failure_, context_).Value());
        return;
      }
      Napi::Value value;
      try {
        BeforeResolve(env);
        value = Resolve(env);
      } catch (const Napi::Error& e) {
        deferred.Reject(e.Value());
        return;
      }
      deferred.Resolve(value);
    } catch (const Napi::Error&) {
    }
  }

 protected:
  // Off the main thread: remember the first failure; Execute should return after it.
  bool Fail(int err, const char* syscall, std::string detail = "") {
    if (!failure_) {
      failure_.err = err;
      failure_.syscall = syscall;
      failure_.detail = std::move(detail);
    }
    return false;
  }
  // A failure of a local file call, named by its path.
  bool FailPath(int err, const char* syscall, const std::string& path, std::string detail = "") {
    if (!failure_) failure_.path = path;
    return Fail(err, syscall, std::move(detail));
  }
  void AddDetail(const std::string& more) { failure_.detail += failure_.detail.empty() ? more : "; " + more; }
  bool Failed() const { return static_cast<bool>(failure_); }

  // Main thread, just before a successful resolve (e.g. a last progress report).
  virtual void BeforeResolve(Napi::Env env) {}
  // Main thread: the resolved value. Defaults to undefined.
  virtual Napi::Value Resolve(Napi::Env env) { return env.Undefined(); }

  ErrorContext context_;

 private:
  Failure failure_;
};

}  // namespace ib
