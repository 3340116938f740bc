// Work run on the addon's own Executor threads (see executor.h), for
// operations that wait on the network. Completion comes back to the main
// thread through one thread-safe function per environment, which holds the
// event loop open only while operations are pending.
#pragma once

#include <napi.h>

#include "common/work.h"

namespace ib {

class PoolWorker : public Work {
 public:
  explicit PoolWorker(Napi::Env env) : env_(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Main thread: hand the work to the executor (ownership included) and
  // return its promise. The worker deletes itself after settling.
  Napi::Promise QueuePromise();

  Napi::Env Env() const { return env_; }

  // Main thread, when the executor is done with it: settle the promise.
  void Complete() { Settle(env_, deferred_); }

 private:
  Napi::Env env_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace ib
