// Work run off the main thread and libuv's pool: on the addon's own Executor
// threads (see executor.h) for operations that wait on the network, or on a
// thread of its own kind (the LVM thread, lvm/lvm_thread.h). Completion
// comes back to the main thread through one thread-safe function per
// environment, which holds the event loop open only while operations are
// pending; no thread ever blocks waiting for another to finish.
#pragma once

#include <napi.h>

#include <functional>

#include "common/work.h"

namespace ib {

class PoolWorker : public Work {
 public:
  // Runs a task on some thread, later; the task must run exactly once.
  using Post = void (*)(std::function<void()> task);

  explicit PoolWorker(Napi::Env env) : env_(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Main thread: hand the work to `post` (default: the shared executor),
  // ownership included, and return its promise. Execute() runs where `post`
  // runs the task; the worker deletes itself after settling.
  Napi::Promise QueuePromise(Post post = nullptr);

  Napi::Env Env() const { return env_; }

  // Main thread, when the executor is done with it: settle the promise.
  void Complete() { Settle(env_, deferred_); }

 private:
  Napi::Env env_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace ib
