// Cluster connection: connect, close, fsid, monitor commands, usage.
//
// librados calls bound here (one to one):
//   rados_create2, rados_conf_read_file, rados_conf_set, rados_connect,
//   rados_cluster_fsid, rados_shutdown          -> rbdConnect / rbdClose
//   rbd_version (read at connect)              -> rbdLibrbdVersion
//   rados_mon_command(cmd, inbuf="")            -> rbdMonCommand
//   rados_conf_get                              -> rbdConfGet
//   rados_cluster_stat                          -> rbdClusterStat
//   rados_ioctx_pool_stat                       -> rbdPoolStat
// Not exposed: rados_conf_parse_argv/env (configuration comes from options),
// rados_pool_create/delete (pools are the operator's business).
#include "rbd/cluster.h"

#include <rbd/librbd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/addon_data.h"
#include "common/args.h"
#include "common/executor.h"
#include "rbd/librbd_loader.h"
#include "rbd/names.h"

namespace ib {

namespace {
struct Registered {
  void* env;  // the environment that connected; compared, never dereferenced
  std::weak_ptr<ClusterState> state;
};
std::mutex registry_mutex;
std::vector<Registered>* registry = nullptr;

// The live connections of `env`, or of every environment when null.
std::vector<std::shared_ptr<ClusterState>> LiveClusters(void* env) {
  std::vector<std::shared_ptr<ClusterState>> live;
  std::lock_guard<std::mutex> guard(registry_mutex);
  if (registry != nullptr)
    for (auto& entry : *registry)
      if (env == nullptr || entry.env == env)
        if (auto state = entry.state.lock()) live.push_back(std::move(state));
  return live;
}

// Stops transfers at their next chunk (an import removes its partial image),
// waits a bounded time for running operations, then shuts the connections
// of `env` (all of them when null) down, so no librados thread is left
// running while the environment or the process ends. A connection whose
// operations do not return within the bound is abandoned (see ClusterState).
void ShutdownAll(void* env) {
  std::vector<std::shared_ptr<ClusterState>> live = LiveClusters(env);
  for (auto& state : live) state->AbortTransfers();
  for (auto& state : live) state->Shutdown(true, state->TeardownBound());
}

// The safety net for an exit() that did not pass through process 'exit'
// (rbdShutdownAll): by now statics of librados may already be destroyed, so
// the JS-side hook is the one that matters.
void ShutdownAllAtExit() { ShutdownAll(nullptr); }
}  // namespace

void ClusterState::Register(const std::shared_ptr<ClusterState>& state, void* env) {
  std::lock_guard<std::mutex> guard(registry_mutex);
  if (registry == nullptr) {
    // Never freed: atexit handlers may run after other static destructors.
    registry = new std::vector<Registered>();
    std::atexit(ShutdownAllAtExit);
  }
  // Drop entries of connections already gone so the list stays short.
  std::vector<Registered> kept;
  for (auto& entry : *registry)
    if (!entry.state.expired()) kept.push_back(entry);
  kept.push_back({env, state});
  registry->swap(kept);
}

static const napi_type_tag kClusterTag = {0x6d1f3a0c2b7e4e51ULL, 0x9a4c3e2d1b0f8e77ULL};

Napi::Function ClusterHandle::Define(Napi::Env env) {
  return DefineClass(env, "RbdClusterHandle", std::vector<Napi::ClassPropertyDescriptor<ClusterHandle>>{});
}

ClusterHandle::ClusterHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ClusterHandle>(info), env_(info.Env()) {
  // Only NewInstance constructs handles: it passes the state in an External.
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "RbdClusterHandle is created by rbdConnect()");
  state_ = *info[0].As<Napi::External<std::shared_ptr<ClusterState>>>().Data();
  napi_status status = napi_type_tag_object(env_, info.This(), &kClusterTag);
  NAPI_THROW_IF_FAILED_VOID(env_, status);
  napi_add_env_cleanup_hook(env_, CleanupHook, this);
}

ClusterHandle::~ClusterHandle() {
  napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  // Dropping the last reference shuts the connection down (finalizer path).
  state_.reset();
}

// Main thread, at environment teardown (process exit, worker thread exit):
// stop transfers, wait for running operations, shut librados down so its
// threads are gone before the process unloads the library.
void ClusterHandle::CleanupHook(void* arg) {
  auto* self = static_cast<ClusterHandle*>(arg);
  if (self->state_) self->state_->Shutdown(true, self->state_->TeardownBound());
  self->state_.reset();
}

std::shared_ptr<ClusterState> ClusterHandle::Release() { return std::move(state_); }

Napi::Object ClusterHandle::NewInstance(Napi::Env env, std::shared_ptr<ClusterState> state) {
  std::shared_ptr<ClusterState> copy = std::move(state);
  return GetAddonData(env).cluster_class.New({Napi::External<std::shared_ptr<ClusterState>>::New(env, &copy)});
}

static ClusterHandle* UnwrapTagged(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  bool tagged = false;
  if (v.IsObject()) napi_check_object_type_tag(info.Env(), v, &kClusterTag, &tagged);
  if (!tagged) ThrowArgError(info.Env(), "an RBD cluster handle", "cluster", v);
  return ClusterHandle::Unwrap(v.As<Napi::Object>());
}

std::shared_ptr<ClusterState> ClusterHandle::From(const Napi::CallbackInfo& info, size_t i) {
  ClusterHandle* handle = UnwrapTagged(info, i);
  if (!handle->state_) {
    Failure closed;
    closed.err = -ESHUTDOWN;
    closed.syscall = "rados_shutdown";
    closed.detail = "the cluster connection is closed";
    throw MakeError(info.Env(), closed, ErrorContext{});
  }
  return handle->state_;
}

// ---- rbdConnect(options) -> Promise<handle>

class ConnectWorker : public PoolWorker {
 public:
  ConnectWorker(Napi::Env env, Napi::Object opts) : PoolWorker(env), env_(env) {
    conf_ = OptString(opts, "cephConf");
    user_ = OptString(opts, "user", "admin");
    keyring_ = OptString(opts, "keyring");
    key_ = OptString(opts, "key");
    connect_timeout_ms_ = OptUint64(opts, "connectTimeoutMs", 0);
    op_timeout_ms_ = OptUint64(opts, "opTimeoutMs", 0);
    Napi::Value extra = opts.Get("options");
    if (extra.IsObject()) {
      Napi::Object o = extra.As<Napi::Object>();
      Napi::Array keys = o.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); k++) {
        std::string key = keys.Get(k).ToString().Utf8Value();
        options_[key] = o.Get(key).ToString().Utf8Value();
      }
    }
    context_.path = conf_;
  }

 private:
  // These options are whole seconds in librados (TYPE_SECS); round up so a
  // short timeout never becomes 0, which would mean "wait forever".
  static std::string Seconds(uint64_t ms) { return std::to_string((ms + 999) / 1000); }

  void Execute() override {
    // The first connection of the process opens librados/librbd: a host
    // without them gets a typed error here instead of failing to load.
    std::string missing;
    if (!rbd::EnsureLibrbd(&missing)) {
      Fail(-ELIBACC, "dlopen", missing);
      return;
    }
    rados_t cluster = nullptr;
    std::string name = "client." + user_;
    int r = rados_create2(&cluster, "ceph", name.c_str(), 0);
    if (r < 0) {
      Fail(r, "rados_create2");
      return;
    }
    if (!Configure(cluster)) {
      rados_shutdown(cluster);
      return;
    }
    r = rados_connect(cluster);
    if (r < 0) {
      rados_shutdown(cluster);
      Fail(r, "rados_connect",
           r == -ETIMEDOUT ? "no answer within " + std::to_string(connect_timeout_ms_) + " ms" : "");
      return;
    }
    char fsid[64] = {0};
    r = rados_cluster_fsid(cluster, fsid, sizeof(fsid) - 1);
    if (r < 0) {
      rados_shutdown(cluster);
      Fail(r, "rados_cluster_fsid");
      return;
    }
    // The library this process loaded, for the TypeScript layer's
    // per-release decisions (the snapshot-open/clone gate: README, Known issues).
    LibrbdVersion librbd;
    rbd_version(&librbd.major, &librbd.minor, &librbd.extra);
    state_ = std::make_shared<ClusterState>(cluster, fsid, librbd, op_timeout_ms_);
    ClusterState::Register(state_, env_);
  }

  bool Configure(rados_t cluster) {
    std::vector<std::pair<std::string, std::string>> settings;
    if (!conf_.empty()) {
      int r = rados_conf_read_file(cluster, conf_.c_str());
      if (r < 0) return Fail(r, "rados_conf_read_file");
    }
    if (!keyring_.empty()) settings.emplace_back("keyring", keyring_);
    if (!key_.empty()) settings.emplace_back("key", key_);
    if (connect_timeout_ms_ > 0) settings.emplace_back("client_mount_timeout", Seconds(connect_timeout_ms_));
    if (op_timeout_ms_ > 0) {
      settings.emplace_back("rados_osd_op_timeout", Seconds(op_timeout_ms_));
      settings.emplace_back("rados_mon_op_timeout", Seconds(op_timeout_ms_));
    }
    for (auto& entry : options_) settings.emplace_back(entry.first, entry.second);
    for (auto& s : settings) {
      int r = rados_conf_set(cluster, s.first.c_str(), s.second.c_str());
      if (r < 0) return Fail(r, "rados_conf_set", "option " + s.first);
    }
    return true;
  }

  Napi::Value Resolve(Napi::Env env) override { return ClusterHandle::NewInstance(env, std::move(state_)); }

  std::string conf_, user_, keyring_, key_;
  uint64_t connect_timeout_ms_, op_timeout_ms_;
  std::map<std::string, std::string> options_;
  std::shared_ptr<ClusterState> state_;
  napi_env env_;
};

static Napi::Value Connect(const Napi::CallbackInfo& info) {
  return (new ConnectWorker(info.Env(), ArgOptions(info, 0)))->QueuePromise();
}

// ---- rbdClose(handle) -> Promise<void>; waits for operations in flight.

class CloseWorker : public PoolWorker {
 public:
  CloseWorker(Napi::Env env, std::shared_ptr<ClusterState> state) : PoolWorker(env), state_(std::move(state)) {}

 private:
  void Execute() override {
    if (state_) state_->Shutdown(false, state_->CloseBound());
  }
  std::shared_ptr<ClusterState> state_;
};

static Napi::Value Close(const Napi::CallbackInfo& info) {
  ClusterHandle* handle = UnwrapTagged(info, 0);
  return (new CloseWorker(info.Env(), handle->Release()))->QueuePromise();
}

// ---- rbdFsid(handle) -> string (read once at connect)

static Napi::Value Fsid(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ClusterHandle::From(info, 0)->fsid());
}

// ---- rbdLibrbdVersion(handle) -> { major, minor, extra } (read once at connect)

static Napi::Value LibrbdVersionOf(const Napi::CallbackInfo& info) {
  const LibrbdVersion& v = ClusterHandle::From(info, 0)->librbd();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("major", v.major);
  out.Set("minor", v.minor);
  out.Set("extra", v.extra);
  return out;
}

// ---- rbdMonCommand(handle, json) -> Promise<{ output, status }>

class MonCommandWorker : public ClusterWorker {
 public:
  MonCommandWorker(const Napi::CallbackInfo& info) : ClusterWorker(info, "rbdMonCommand") {
    command_ = ArgString(info, 1, "command");
  }

 private:
  void Run() override {
    const char* cmds[] = {command_.c_str()};
    char *out = nullptr, *status = nullptr;
    size_t out_len = 0, status_len = 0;
    int r = rados_mon_command(state_->cluster(), cmds, 1, "", 0, &out, &out_len, &status, &status_len);
    if (out != nullptr) output_.assign(out, out_len);
    if (status != nullptr) status_.assign(status, status_len);
    rados_buffer_free(out);
    rados_buffer_free(status);
    if (r < 0) Fail(r, "rados_mon_command", status_);
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("output", output_);
    result.Set("status", status_);
    return result;
  }
  std::string command_, output_, status_;
};

static Napi::Value MonCommand(const Napi::CallbackInfo& info) { return (new MonCommandWorker(info))->QueuePromise(); }

// ---- rbdClusterStat(handle) -> Promise<{ total, used, free, objects }> in bytes

class ClusterStatWorker : public ClusterWorker {
 public:
  ClusterStatWorker(const Napi::CallbackInfo& info) : ClusterWorker(info, "rbdClusterStat") {}

 private:
  void Run() override {
    int r = rados_cluster_stat(state_->cluster(), &stat_);
    if (r < 0) Fail(r, "rados_cluster_stat");
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("total", FromUint64(env, stat_.kb * 1024));
    result.Set("used", FromUint64(env, stat_.kb_used * 1024));
    result.Set("free", FromUint64(env, stat_.kb_avail * 1024));
    result.Set("objects", FromUint64(env, stat_.num_objects));
    return result;
  }
  rados_cluster_stat_t stat_{};
};

static Napi::Value ClusterStat(const Napi::CallbackInfo& info) { return (new ClusterStatWorker(info))->QueuePromise(); }

// ---- rbdPoolStat(handle, pool) -> Promise<{ bytes, objects }>

class PoolStatWorker : public ClusterWorker {
 public:
  PoolStatWorker(const Napi::CallbackInfo& info) : ClusterWorker(info, "rbdPoolStat") {
    context_.pool = ArgRbdName(info, 1, "pool", "pool");
  }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    int r = rados_ioctx_pool_stat(ioctx, &stat_);
    if (r < 0) Fail(r, "rados_ioctx_pool_stat");
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("bytes", FromUint64(env, stat_.num_bytes));
    result.Set("objects", FromUint64(env, stat_.num_objects));
    return result;
  }
  rados_pool_stat_t stat_{};
};

static Napi::Value PoolStat(const Napi::CallbackInfo& info) { return (new PoolStatWorker(info))->QueuePromise(); }

// ---- rbdShutdownAll() -> undefined. Sync, main thread, blocking: for
// process.on('exit'), which runs before exit() starts destroying the C++
// runtime: running transfers stop and clean up, and every connection this
// environment opened shuts down. In a worker thread 'exit' fires when the
// worker ends: only the worker's own connections are touched.

static Napi::Value ShutdownAllJs(const Napi::CallbackInfo& info) {
  ShutdownAll(info.Env());
  return info.Env().Undefined();
}

// ---- rbdConfGet(handle, option) -> string: rados_conf_get, the value the
// connection runs with (e.g. auth_client_required). Local, no I/O.

static Napi::Value ConfGet(const Napi::CallbackInfo& info) {
  std::shared_ptr<ClusterState> state = ClusterHandle::From(info, 0);
  std::string option = ArgString(info, 1, "option");
  ClusterState::Use use(*state);
  Failure failure;
  failure.syscall = "rados_conf_get";
  failure.detail = "option " + option;
  if (!use.ok()) {
    failure.err = -ESHUTDOWN;
    throw MakeError(info.Env(), failure, ErrorContext{});
  }
  std::vector<char> value(256);
  int r;
  while ((r = rados_conf_get(state->cluster(), option.c_str(), value.data(), value.size())) == -ENAMETOOLONG &&
         value.size() < (1u << 20))
    value.resize(value.size() * 4);
  if (r < 0) {
    failure.err = r;
    throw MakeError(info.Env(), failure, ErrorContext{});
  }
  return Napi::String::New(info.Env(), value.data());
}

void InitCluster(Napi::Env env, Napi::Object exports) {
  exports.Set("rbdShutdownAll", Napi::Function::New(env, ShutdownAllJs, "rbdShutdownAll"));
  GetAddonData(env).cluster_class = Napi::Persistent(ClusterHandle::Define(env));
  exports.Set("rbdConnect", Napi::Function::New(env, Connect, "rbdConnect"));
  exports.Set("rbdClose", Napi::Function::New(env, Close, "rbdClose"));
  exports.Set("rbdFsid", Napi::Function::New(env, Fsid, "rbdFsid"));
  exports.Set("rbdLibrbdVersion", Napi::Function::New(env, LibrbdVersionOf, "rbdLibrbdVersion"));
  exports.Set("rbdConfGet", Napi::Function::New(env, ConfGet, "rbdConfGet"));
  exports.Set("rbdMonCommand", Napi::Function::New(env, MonCommand, "rbdMonCommand"));
  exports.Set("rbdClusterStat", Napi::Function::New(env, ClusterStat, "rbdClusterStat"));
  exports.Set("rbdPoolStat", Napi::Function::New(env, PoolStat, "rbdPoolStat"));
}

}  // namespace ib
