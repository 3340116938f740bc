// Progress from a worker thread to a JS callback `(done, total) => void`.
// Reports go through a thread-safe function; at most one is queued at a time
// so a fast copy never floods the event loop. The final report is made on the
// main thread by Finish(), before the promise settles; reports that arrive
// after it, or that are no increase, are dropped, so the callback sees a
// strictly increasing sequence that ends with the total.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/errors.h"

namespace ib {

class Progress {
 public:
  // Main thread. `callback` may be undefined: then nothing is reported.
  Progress(Napi::Env env, const Napi::Value& callback, const char* name) : shared_(std::make_shared<Shared>()) {
    if (callback.IsUndefined() || callback.IsNull()) return;
    if (!callback.IsFunction()) ThrowArgError(env, "a function", "onProgress", callback);
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback.As<Napi::Function>(), name, 0, 1);
    callback_ = Napi::Persistent(callback.As<Napi::Function>());
    active_ = true;
  }
  ~Progress() {
    if (active_) tsfn_.Release();
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Worker thread.
  void Report(uint64_t done, uint64_t total) {
    if (!active_ || shared_->queued.exchange(true)) return;
    auto* values = new Values{done, total, shared_};
    if (tsfn_.NonBlockingCall(values, Deliver) != napi_ok) {
      delete values;
      shared_->queued.store(false);
    }
  }

  // Main thread, once the work is done.
  void Finish(uint64_t done, uint64_t total) {
    if (!active_) return;
    shared_->finished = true;
    if (shared_->delivered && done <= shared_->last) return;
    Call(callback_.Env(), callback_.Value(), done, total);
  }

 private:
  struct Shared {
    std::atomic<bool> queued{false};
    // Main thread only:
    bool finished = false;
    bool delivered = false;
    uint64_t last = 0;
  };
  struct Values {
    uint64_t done, total;
    std::shared_ptr<Shared> shared;
  };

  static void Call(Napi::Env env, Napi::Function callback, uint64_t done, uint64_t total) {
    try {
      callback.Call(
          {Napi::Number::New(env, static_cast<double>(done)), Napi::Number::New(env, static_cast<double>(total))});
    } catch (const Napi::Error&) {
      // A throwing callback or a dying environment must not end the process
      // or the transfer: the exception is dropped (documented on onProgress).
    }
  }

  // Main thread.
  static void Deliver(Napi::Env env, Napi::Function callback, Values* values) {
    std::unique_ptr<Values> owned(values);
    owned->shared->queued.store(false);
    Shared& shared = *owned->shared;
    if (env == nullptr || shared.finished || (shared.delivered && owned->done <= shared.last)) return;
    shared.delivered = true;
    shared.last = owned->done;
    Call(env, callback, owned->done, owned->total);
  }

  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference callback_;
  bool active_ = false;
  std::shared_ptr<Shared> shared_;
};

}  // namespace ib
