// The JS handle of a cluster connection and the worker base every RBD
// operation derives from.
#pragma once

#include <napi.h>

#include <memory>

#include "common/pool_worker.h"
#include "rbd/cluster_state.h"

namespace ib {

// A type-tagged object wrapping the shared ClusterState. Released by rbdClose
// (explicit, async), by its finalizer, or by the env cleanup hook at exit.
class ClusterHandle : public Napi::ObjectWrap<ClusterHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<ClusterState> state);
  // Main thread: the state behind argument `i`; throws on a wrong type or a closed handle.
  static std::shared_ptr<ClusterState> From(const Napi::CallbackInfo& info, size_t i);

  explicit ClusterHandle(const Napi::CallbackInfo& info);
  ~ClusterHandle() override;

  // Main thread: detach the state (the caller shuts it down off-thread).
  std::shared_ptr<ClusterState> Release();

 private:
  static void CleanupHook(void* arg);
  std::shared_ptr<ClusterState> state_;
  napi_env env_;
};

// Base of every operation on a connected cluster. Holds the state (and the JS
// handle, so it is not collected) for the worker's life; Run() executes on an
// Executor thread with the connection guaranteed alive.
class ClusterWorker : public PoolWorker {
 public:
  ClusterWorker(const Napi::CallbackInfo& info, const char* name)
      : PoolWorker(info.Env()),
        state_(ClusterHandle::From(info, 0)),
        handle_(Napi::Persistent(info[0].As<Napi::Object>())) {}

 protected:
  virtual void Run() = 0;
  // Worker thread: the pool's io-context, or a recorded failure.
  bool IoCtx(const std::string& pool, rados_ioctx_t* out) {
    int r = state_->IoCtx(pool, out);
    return r < 0 ? Fail(r, "rados_ioctx_create") : true;
  }
  std::shared_ptr<ClusterState> state_;

  // The environment is gone: let go of the connection (see Work::Abandon).
  void Abandon() override { state_.reset(); }

 private:
  void Execute() override {
    ClusterState::Use use(*state_);
    if (!use.ok()) {
      Fail(-ESHUTDOWN, "rados_shutdown", "the cluster connection is closed");
      return;
    }
    Run();
  }
  Napi::ObjectReference handle_;
};

void InitCluster(Napi::Env env, Napi::Object exports);

}  // namespace ib
