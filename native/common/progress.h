// Progress from a worker thread to a JS callback `(done, total) => void`.
// Reports go through a thread-safe function; at most one is queued at a time
// so a fast copy never floods the event loop, and the last one is always sent.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/errors.h"

namespace ib {

class Progress {
 public:
  // Main thread. `callback` may be undefined: then Report() does nothing.
  Progress(Napi::Env env, const Napi::Value& callback, const char* name) {
    if (callback.IsUndefined() || callback.IsNull()) return;
    if (!callback.IsFunction()) ThrowArgError(env, "a function", "onProgress", callback);
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback.As<Napi::Function>(), name, 0, 1);
    active_ = true;
  }
  ~Progress() {
    if (active_) tsfn_.Release();
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Worker thread. `force` sends even when a report is still queued (the final one).
  void Report(uint64_t done, uint64_t total, bool force = false) {
    if (!active_) return;
    if (!force && queued_->exchange(true)) return;
    queued_->store(true);
    auto* values = new Values{done, total, queued_};
    napi_status status = tsfn_.NonBlockingCall(values, Deliver);
    if (status != napi_ok) {
      delete values;
      queued_->store(false);
    }
  }

 private:
  struct Values {
    uint64_t done, total;
    std::shared_ptr<std::atomic<bool>> queued;
  };
  // Main thread.
  static void Deliver(Napi::Env env, Napi::Function callback, Values* values) {
    values->queued->store(false);
    if (env != nullptr) {
      callback.Call({Napi::Number::New(env, static_cast<double>(values->done)),
                     Napi::Number::New(env, static_cast<double>(values->total))});
    }
    delete values;
  }
  Napi::ThreadSafeFunction tsfn_;
  bool active_ = false;
  std::shared_ptr<std::atomic<bool>> queued_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace ib
