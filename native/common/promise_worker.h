// Work run on libuv's thread pool (the pool Node's own fs uses): for short
// local file operations. Operations that wait on the network (RBD) use
// PoolWorker instead, so they never starve fs calls of threads.
#pragma once

#include <napi.h>

#include "common/work.h"

namespace ib {

class PromiseWorker : public Napi::AsyncWorker, public Work {
 public:
  PromiseWorker(Napi::Env env, const char* resource_name)
      : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Main thread: queue the work and hand out its promise.
  Napi::Promise QueuePromise() {
    Queue();
    return deferred_.Promise();
  }

 private:
  void OnOK() override { Settle(Env(), deferred_); }

  // Only reached through SetError (an exception escaping Execute).
  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

  Napi::Promise::Deferred deferred_;
};

}  // namespace ib
