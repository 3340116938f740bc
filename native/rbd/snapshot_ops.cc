// Snapshots of one image.
//
// librbd calls bound here (each after rbd_open):
//   rbd_snap_create        -> rbdSnapCreate(h, pool, image, snap)
//   rbd_snap_remove        -> rbdSnapRemove(h, pool, image, snap)
//   rbd_snap_protect       -> rbdSnapProtect(h, pool, image, snap)
//   rbd_snap_unprotect     -> rbdSnapUnprotect(h, pool, image, snap)
//   rbd_snap_rollback      -> rbdSnapRollback(h, pool, image, snap)
//   rbd_snap_is_protected  -> rbdSnapIsProtected(h, pool, image, snap)
//   rbd_snap_list          -> rbdSnapList(h, pool, image)
// Not exposed: rbd_snap_rename, snapshot limits and namespaces (nova does not use them).
#include <string>
#include <vector>

#include "rbd/image_worker.h"

namespace ib {

// One worker for the calls shaped int f(rbd_image_t, const char* snap).
template <int (*Call)(rbd_image_t, const char*)>
class SnapCallWorker : public ImageWorker {
 public:
  SnapCallWorker(const Napi::CallbackInfo& info, const char* syscall) : ImageWorker(info, syscall), syscall_(syscall) {
    context_.snapshot = ArgRbdName(info, 3, "snapshot", "snapshot");
  }

 private:
  void Run() override {
    ImageRef image;
    // Open the image head: the calls act on the named snapshot themselves.
    std::string snap = std::move(context_.snapshot);
    bool opened = Open(image, false);
    context_.snapshot = std::move(snap);
    if (!opened) return;
    int r = Call(image.get(), context_.snapshot.c_str());
    if (r < 0) Fail(r, syscall_);
  }
  const char* syscall_;
};

#define SNAP_CALL(js, fn) \
  static Napi::Value js(const Napi::CallbackInfo& info) { return (new SnapCallWorker<fn>(info, #fn))->QueuePromise(); }
SNAP_CALL(SnapCreate, rbd_snap_create)
SNAP_CALL(SnapRemove, rbd_snap_remove)
SNAP_CALL(SnapProtect, rbd_snap_protect)
SNAP_CALL(SnapUnprotect, rbd_snap_unprotect)
SNAP_CALL(SnapRollback, rbd_snap_rollback)
#undef SNAP_CALL

class SnapIsProtectedWorker : public ImageWorker {
 public:
  explicit SnapIsProtectedWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdSnapIsProtected") {
    context_.snapshot = ArgRbdName(info, 3, "snapshot", "snapshot");
  }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    ImageRef image;
    int r = rbd_open_read_only(ioctx, context_.image.c_str(), image.out(), nullptr);
    if (r < 0) {
      Fail(r, "rbd_open_read_only");
      return;
    }
    int is_protected = 0;
    r = rbd_snap_is_protected(image.get(), context_.snapshot.c_str(), &is_protected);
    if (r < 0) Fail(r, "rbd_snap_is_protected");
    protected_ = is_protected != 0;
  }
  Napi::Value Resolve(Napi::Env env) override { return Napi::Boolean::New(env, protected_); }
  bool protected_ = false;
};

class SnapListWorker : public ImageWorker {
 public:
  explicit SnapListWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdSnapList") {}

 private:
  struct Snap {
    uint64_t id, size;
    std::string name;
  };
  void Run() override {
    ImageRef image;
    if (!Open(image, true)) return;
    int max = 16, r;
    std::vector<rbd_snap_info_t> infos;
    do {
      infos.resize(max);
      r = rbd_snap_list(image.get(), infos.data(), &max);
    } while (r == -ERANGE);
    if (r < 0) {
      Fail(r, "rbd_snap_list");
      return;
    }
    for (int i = 0; i < r; i++) snaps_.push_back({infos[i].id, infos[i].size, infos[i].name});
    rbd_snap_list_end(infos.data());
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, snaps_.size());
    for (size_t i = 0; i < snaps_.size(); i++) {
      Napi::Object snap = Napi::Object::New(env);
      snap.Set("id", FromUint64(env, snaps_[i].id));
      snap.Set("name", snaps_[i].name);
      snap.Set("size", BigIntFromUint64(env, snaps_[i].size));
      out.Set(i, snap);
    }
    return out;
  }
  std::vector<Snap> snaps_;
};

void InitSnapshotOps(Napi::Env env, Napi::Object exports) {
  exports.Set("rbdSnapCreate", Napi::Function::New(env, SnapCreate, "rbdSnapCreate"));
  exports.Set("rbdSnapRemove", Napi::Function::New(env, SnapRemove, "rbdSnapRemove"));
  exports.Set("rbdSnapProtect", Napi::Function::New(env, SnapProtect, "rbdSnapProtect"));
  exports.Set("rbdSnapUnprotect", Napi::Function::New(env, SnapUnprotect, "rbdSnapUnprotect"));
  exports.Set("rbdSnapRollback", Napi::Function::New(env, SnapRollback, "rbdSnapRollback"));
  exports.Set("rbdSnapIsProtected", Napi::Function::New(env, Start<SnapIsProtectedWorker>, "rbdSnapIsProtected"));
  exports.Set("rbdSnapList", Napi::Function::New(env, Start<SnapListWorker>, "rbdSnapList"));
}

}  // namespace ib
