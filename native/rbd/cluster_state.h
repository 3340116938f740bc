// The connection shared by every RBD operation: one rados_t and one io-context
// per pool, kept for the life of the handle so operations skip the connect
// (the cost nova pays on every call).
//
// Lifetime: every operation, and every open image writer, holds a Use (a
// counted claim, released on any thread) while it touches librados.
// Shutdown() refuses new claims, waits a bounded time for the claims held,
// and shuts librados down. When the bound passes first (a dead cluster: some
// librbd calls never return despite the op timeouts) the connection is
// abandoned, not waited for: the shutdown is left to the last claim's release,
// which may never come; the process can still exit.
#pragma once

#include <rados/librados.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ib {

// librbd's API version (rbd_version): major 1, minor the Ceph release
// (16 Pacific, 17 Quincy, 18 Reef, 19 Squid), extra 0 in every release so far.
struct LibrbdVersion {
  int major = 0, minor = 0, extra = 0;
};

class ClusterState {
 public:
  using Clock = std::chrono::steady_clock;

  // Every live connection of the process with the environment that opened
  // it, so rbdShutdownAll(env) shuts down only that environment's (a worker
  // thread exiting must not touch the main thread's), and exit() the rest.
  // Registered at connect; the registry holds weak references.
  static void Register(const std::shared_ptr<ClusterState>& state, void* env);

  // `op_timeout_ms` 0: librados waits forever; teardown then waits 30 s at most.
  ClusterState(rados_t cluster, std::string fsid, LibrbdVersion librbd, uint64_t op_timeout_ms)
      : cluster_(cluster), fsid_(std::move(fsid)), librbd_(librbd), op_timeout_ms_(op_timeout_ms) {}
  ~ClusterState() { Shutdown(true, std::chrono::milliseconds(0)); }
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // How long a teardown (env cleanup, process exit) waits for operations in
  // flight: the op timeout plus a margin for librados' tick, or 30 s.
  std::chrono::milliseconds TeardownBound() const {
    return std::chrono::milliseconds(op_timeout_ms_ > 0 ? op_timeout_ms_ + 2000 : 30000);
  }
  // How long an explicit close waits before it leaves the shutdown to the
  // last operation (which then runs it): the same bound, or forever when the
  // op timeout is 0 ("wait").
  std::chrono::milliseconds CloseBound() const {
    return op_timeout_ms_ > 0 ? TeardownBound() : std::chrono::milliseconds::max();
  }

  // Any thread (never a librados callback thread). Idempotent. Refuses new
  // claims; with `abort_transfers` long transfers are told to stop first.
  // Waits up to `bound` for the claims held, then shuts librados down;
  // returns false when the bound passed first (shutdown left to the last
  // release). A second caller waits for the first one's outcome.
  bool Shutdown(bool abort_transfers, std::chrono::milliseconds bound) {
    if (abort_transfers) AbortTransfers();
    std::unique_lock<std::mutex> lock(mutex_);
    closing_ = true;
    auto idle = [this] { return users_ == 0 || cluster_ == nullptr; };
    if (bound == std::chrono::milliseconds::max()) {
      changed_.wait(lock, idle);
    } else if (!changed_.wait_for(lock, bound, idle)) {
      return false;
    }
    ShutdownLocked();
    return true;
  }

  // Any thread: ask running transfers and writers to stop at their next chunk.
  void AbortTransfers() { aborting_.store(true); }

  // Any thread. A claim on the connection: false once shutting down.
  bool Acquire() {
    std::lock_guard<std::mutex> guard(mutex_);
    if (closing_ || cluster_ == nullptr) return false;
    users_++;
    return true;
  }
  // Any thread but a librados callback thread: the last release after an
  // abandoned shutdown shuts librados down here.
  void Release() {
    std::lock_guard<std::mutex> guard(mutex_);
    if (--users_ == 0) {
      if (closing_) ShutdownLocked();
      changed_.notify_all();
    }
  }

  // Worker thread, while holding a claim. Creates the pool's io-context once.
  int IoCtx(const std::string& pool, rados_ioctx_t* out) {
    std::lock_guard<std::mutex> guard(ioctx_mutex_);
    auto found = ioctxs_.find(pool);
    if (found != ioctxs_.end()) {
      *out = found->second;
      return 0;
    }
    rados_ioctx_t ioctx = nullptr;
    int r = rados_ioctx_create(cluster_, pool.c_str(), &ioctx);
    if (r < 0) return r;
    ioctxs_.emplace(pool, ioctx);
    *out = ioctx;
    return 0;
  }

  rados_t cluster() const { return cluster_; }
  const std::string& fsid() const { return fsid_; }
  const LibrbdVersion& librbd() const { return librbd_; }
  // Set on shutdown (and by the env cleanup hook) so long transfers stop early.
  bool aborting() const { return aborting_.load(); }

  // RAII claim for the length of one operation; `ok()` is false once shut down.
  class Use {
   public:
    explicit Use(ClusterState& state) : state_(state), ok_(state.Acquire()) {}
    ~Use() {
      if (ok_) state_.Release();
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    bool ok() const { return ok_; }

   private:
    ClusterState& state_;
    bool ok_;
  };

 private:
  // With mutex_ held and no claims left.
  void ShutdownLocked() {
    if (cluster_ == nullptr) return;
    {
      std::lock_guard<std::mutex> guard(ioctx_mutex_);
      for (auto& entry : ioctxs_) rados_ioctx_destroy(entry.second);
      ioctxs_.clear();
    }
    rados_shutdown(cluster_);
    cluster_ = nullptr;
    changed_.notify_all();
  }

  rados_t cluster_;
  std::string fsid_;
  LibrbdVersion librbd_;
  uint64_t op_timeout_ms_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t users_ = 0;
  bool closing_ = false;
  std::mutex ioctx_mutex_;
  std::map<std::string, rados_ioctx_t> ioctxs_;
  std::atomic<bool> aborting_{false};
};

}  // namespace ib
