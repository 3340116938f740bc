// The connection shared by every RBD operation: one rados_t and one io-context
// per pool, kept for the life of the handle so operations skip the connect
// (the cost nova pays on every call).
//
// Threads: operations run on libuv pool threads and hold `lifetime` shared for
// their whole Execute(); Shutdown() takes it exclusively, so it waits for the
// operations in flight and none can start on a dead connection afterwards.
#pragma once

#include <rados/librados.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace ib {

class ClusterState {
 public:
  // Every live connection of the process, so exit() can shut them down: on
  // process.exit() Node runs no env cleanup hooks, and librados threads still
  // running while the C++ runtime is destroyed crash, or abandon transfers
  // half-done. Registered at connect; the registry holds weak references.
  static void Register(const std::shared_ptr<ClusterState>& state);

  explicit ClusterState(rados_t cluster, std::string fsid) : cluster_(cluster), fsid_(std::move(fsid)) {}
  ~ClusterState() { Shutdown(true); }
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // Any thread. Idempotent. Blocks until running operations have finished;
  // with `abort_transfers` (teardown) long transfers are told to stop first,
  // otherwise (an explicit close) they run to their end.
  void Shutdown(bool abort_transfers = false) {
    if (abort_transfers) AbortTransfers();
    std::unique_lock<std::shared_mutex> guard(lifetime_);
    if (cluster_ == nullptr) return;
    for (auto& entry : ioctxs_) rados_ioctx_destroy(entry.second);
    ioctxs_.clear();
    rados_shutdown(cluster_);
    cluster_ = nullptr;
  }

  // Any thread: ask running transfers to stop at their next chunk.
  void AbortTransfers() { aborting_.store(true); }

  // Worker thread, while holding a Use. Creates the pool's io-context once.
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
  // Set on shutdown (and by the env cleanup hook) so long transfers stop early.
  bool aborting() const { return aborting_.load(); }

  // RAII holder of the shared side of `lifetime`; `ok()` is false once shut down.
  class Use {
   public:
    explicit Use(ClusterState& state) : guard_(state.lifetime_), ok_(state.cluster_ != nullptr) {}
    bool ok() const { return ok_; }

   private:
    std::shared_lock<std::shared_mutex> guard_;
    bool ok_;
  };

 private:
  rados_t cluster_;
  std::string fsid_;
  std::shared_mutex lifetime_;
  std::mutex ioctx_mutex_;
  std::map<std::string, rados_ioctx_t> ioctxs_;
  std::atomic<bool> aborting_{false};
};

}  // namespace ib
