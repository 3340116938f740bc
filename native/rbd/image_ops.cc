// Image lifecycle and metadata, one librbd call (plus open/close) each.
//
// librbd calls bound here:
//   rbd_list2                                  -> rbdList(h, pool)
//   rados_exec rbd.get_id + rbd.get_size        -> rbdExists(h, pool, image)
//   rados_exec rbd.get_id + rbd.get_snapcontext + rbd.snapshot_get
//                                              -> rbdExists(h, pool, image, snap)
//     (both fall back to rbd_open_read_only, ENOENT -> false)
//   rbd_create4                                -> rbdCreate(h, pool, image, size, layout)
//   rbd_remove                                 -> rbdRemove(h, pool, image)
//   rbd_resize2                                -> rbdResize(h, pool, image, size, { allowShrink })
//   rbd_stat, rbd_get_features, rbd_get_flags  -> rbdStat(h, pool, image, snap?)
//   rados_exec rbd.get_id + rbd.get_size        -> rbdSize(h, pool, image)
//   rados_exec rbd.get_snapcontext + rbd.snapshot_get -> rbdSize(h, pool, image, snap)
//     (falls back to rbd_open_read_only + rbd_get_size)
//   rbd_clone3                                 -> rbdClone(h, pPool, pImage, pSnap, cPool, cImage, layout)
//   rbd_flatten                                -> rbdFlatten(h, pool, image)
//   rbd_rename                                 -> rbdRename(h, pool, image, newName)
//   rbd_get_parent (ENOENT -> null)             -> rbdParentInfo(h, pool, image, snap?)
// Not exposed: rbd_copy*/rbd_deep_copy (import/export cover nova's needs),
// trash, migration, mirroring, group and namespace APIs (nova does not use them).
#include <cstring>
#include <string>
#include <vector>

#include "rbd/cls_decode.h"
#include "rbd/image_worker.h"

namespace ib {

class ListWorker : public ClusterWorker {
 public:
  explicit ListWorker(const Napi::CallbackInfo& info) : ClusterWorker(info, "rbdList") {
    context_.pool = ArgRbdName(info, 1, "pool", "pool");
  }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    std::vector<rbd_image_spec_t> specs(64);
    size_t count = specs.size();
    int r;
    while ((r = rbd_list2(ioctx, specs.data(), &count)) == -ERANGE) specs.resize(count);
    if (r < 0) {
      Fail(r, "rbd_list2");
      return;
    }
    for (size_t i = 0; i < count; i++) names_.emplace_back(specs[i].name);
    rbd_image_spec_list_cleanup(specs.data(), count);
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, names_.size());
    for (size_t i = 0; i < names_.size(); i++) out.Set(i, names_[i]);
    return out;
  }
  std::vector<std::string> names_;
};

// The size of an image's head in two OSD round trips instead of a full open
// (which reads the header, snapshots, parent, features, object map... and
// closes): the rbd class methods get_id on rbd_id.<name> and get_size on
// rbd_header.<id>, the calls librbd's own open starts with. The id is looked
// up every time, never cached: a rename plus re-create would otherwise
// silently answer for another image. Returns 0 with *size set; -ENOENT when
// there is no such image (no id object, no header, no format 1 header);
// anything else (a format 1 image: -EAGAIN, an OSD without the method, an odd
// reply) means "ask librbd". Runs on the worker thread.
namespace {

bool ObjectExists(rados_ioctx_t ioctx, const std::string& oid) {
  uint64_t size = 0;
  time_t mtime = 0;
  return rados_stat(ioctx, oid.c_str(), &size, &mtime) == 0;
}
std::string Le64Arg(uint64_t v) {
  std::string p(8, '\0');
  for (int i = 0; i < 8; i++) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return p;
}
constexpr uint64_t kNoSnap = static_cast<uint64_t>(-2);  // CEPH_NOSNAP

// One rbd class method call on `oid`; its reply (at most `cap` bytes) for
// the checked decoders of rbd/cls_decode.h. Returns the reply length or a
// negative errno.
int RbdMethod(rados_ioctx_t ioctx, const std::string& oid, const char* method, const std::string& in, size_t cap,
              std::vector<uint8_t>* reply) {
  reply->assign(cap, 0);
  int n = rados_exec(ioctx, oid.c_str(), "rbd", method, in.data(), in.size(), reinterpret_cast<char*>(reply->data()),
                     reply->size());
  reply->resize(n < 0 ? 0 : static_cast<size_t>(n));
  return n;
}

// The header object (rbd_header.<id>) of a format 2 image: 0, -ENOENT when
// no such image, -EAGAIN for a format 1 image, another error otherwise.
int FastHeaderObject(rados_ioctx_t ioctx, const std::string& image, std::string* header_object) {
  std::vector<uint8_t> reply;
  int n = RbdMethod(ioctx, "rbd_id." + image, "get_id", {}, 512, &reply);
  if (n == -ENOENT) {
    // No format 2 id object: a format 1 image has "<name>.rbd" instead.
    return ObjectExists(ioctx, image + ".rbd") ? -EAGAIN : -ENOENT;
  }
  if (n < 0) return n;
  std::string id;
  int r = cls::DecodeGetId(reply.data(), reply.size(), &id);
  if (r < 0) return r;
  *header_object = "rbd_header." + id;
  return 0;
}

int FastHeadSize(rados_ioctx_t ioctx, const std::string& image, uint64_t* size) {
  std::string header_object;
  int n = FastHeaderObject(ioctx, image, &header_object);
  if (n < 0) return n;
  std::vector<uint8_t> reply;
  n = RbdMethod(ioctx, header_object, "get_size", Le64Arg(kNoSnap), 512, &reply);
  if (n == -ENOENT) return -ENOENT;  // removed between the two calls
  if (n < 0) return n;
  uint8_t order = 0;
  return cls::DecodeGetSize(reply.data(), reply.size(), &order, size);
}

// The size of the image's user snapshot named `snap`, read the way librbd's
// refresh reads it (rbd.get_snapcontext, then rbd.snapshot_get per id) but
// without opening the image: 0 with *size set, -ENOENT no such image or
// snapshot, anything else means "ask librbd". Opening at a snapshot is avoided on
// purpose: with librbd 16.2, snapshot opens racing rbd_clone3 on the same
// client have crashed the process (see README, "Known issues").
int FastSnapshot(rados_ioctx_t ioctx, const std::string& image, const std::string& snap, uint64_t* size) {
  std::string header_object;
  int r = FastHeaderObject(ioctx, image, &header_object);
  if (r < 0) return r;
  std::vector<uint8_t> reply;
  r = RbdMethod(ioctx, header_object, "get_snapcontext", {}, 64 * 1024, &reply);
  if (r < 0) return r;
  uint64_t seq = 0;
  std::vector<uint64_t> ids;
  r = cls::DecodeSnapContext(reply.data(), reply.size(), &seq, &ids);
  if (r < 0) return r;
  for (uint64_t id : ids) {
    int m = RbdMethod(ioctx, header_object, "snapshot_get", Le64Arg(id), 4096, &reply);
    if (m == -ENOENT) continue;  // removed since the snapcontext was read
    if (m < 0) return m;
    cls::SnapshotInfo info;
    m = cls::DecodeSnapshotInfo(reply.data(), reply.size(), &info);
    if (m < 0) return m;
    if (info.namespace_type != 0 || info.name != snap) continue;
    *size = info.image_size;  // the head's size when the snapshot was taken
    return 0;
  }
  return -ENOENT;
}

}  // namespace

// Looked up with class methods, no open: the head with FastHeadSize (the
// common question: "is this instance's disk there yet?"), a snapshot with
// FastSnapshotExists. A format 1 image or anything unexpected takes librbd's
// read-only open.
class ExistsWorker : public ImageWorker {
 public:
  explicit ExistsWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdExists") { OptSnapshot(info, 3); }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    uint64_t size = 0;
    int fast = context_.snapshot.empty() ? FastHeadSize(ioctx, context_.image, &size)
                                         : FastSnapshot(ioctx, context_.image, context_.snapshot, &size);
    if (fast == -ENOENT) return;
    // A timeout is the answer: a fallback open would only wait once more.
    if (fast == -ETIMEDOUT) {
      Fail(fast, "rados_exec");
      return;
    }
    if (fast == 0) {
      exists_ = true;
      return;
    }
    ImageRef image;
    const char* snap = context_.snapshot.empty() ? nullptr : context_.snapshot.c_str();
    int r = rbd_open_read_only(ioctx, context_.image.c_str(), image.out(), snap);
    if (r == -ENOENT) return;
    if (r < 0) {
      Fail(r, "rbd_open_read_only");
      return;
    }
    exists_ = true;
  }
  Napi::Value Resolve(Napi::Env env) override { return Napi::Boolean::New(env, exists_); }
  bool exists_ = false;
};

class CreateWorker : public ImageWorker {
 public:
  explicit CreateWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdCreate") {
    size_ = ArgUint64(info, 3, "size");
    layout_ = ImageLayout::From(ArgOptions(info, 4));
  }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    ImageOptions options;
    layout_.Apply(options);
    int r = rbd_create4(ioctx, context_.image.c_str(), size_, options.get());
    if (r < 0) Fail(r, "rbd_create4");
  }
  uint64_t size_;
  ImageLayout layout_;
};

class RemoveWorker : public ImageWorker {
 public:
  explicit RemoveWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdRemove") {}

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    int r = rbd_remove(ioctx, context_.image.c_str());
    if (r < 0) Fail(r, "rbd_remove");
  }
};

// librbd's C wrapper calls the progress callback without a null check.
static int NoProgress(uint64_t, uint64_t, void*) { return 0; }

class ResizeWorker : public ImageWorker {
 public:
  explicit ResizeWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdResize") {
    size_ = ArgUint64(info, 3, "size");
    // Never shrink unless asked: a smaller size silently drops the guest's
    // data at the end of the disk (rbd resize and qemu-img resize refuse too).
    allow_shrink_ = OptBool(ArgOptions(info, 4), "allowShrink", false);
  }

 private:
  void Run() override {
    ImageRef image;
    if (!Open(image, false)) return;
    uint64_t current = 0;
    int r = rbd_get_size(image.get(), &current);
    if (r < 0) {
      Fail(r, "rbd_get_size");
      return;
    }
    // librbd refuses too (EINVAL, checked under the image lock, so a resize
    // racing this one cannot slip through); checking first names the reason.
    if (size_ < current && !allow_shrink_) {
      Fail(-EINVAL, "rbd_resize2", kShrinkRefused + std::to_string(current) + " to " + std::to_string(size_));
      return;
    }
    r = rbd_resize2(image.get(), size_, allow_shrink_, NoProgress, nullptr);
    if (r == -EINVAL && !allow_shrink_) {
      Fail(r, "rbd_resize2", kShrinkRefused + "its current size to " + std::to_string(size_));
    } else if (r < 0) {
      Fail(r, "rbd_resize2");
    }
  }
  static inline const std::string kShrinkRefused = "shrinking needs allowShrink: true; refused from ";
  uint64_t size_;
  bool allow_shrink_;
};

class StatWorker : public ImageWorker {
 public:
  explicit StatWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdStat") { OptSnapshot(info, 3); }

 private:
  void Run() override {
    ImageRef image;
    if (!Open(image, true)) return;
    int r = rbd_stat(image.get(), &stat_, sizeof(stat_));
    if (r < 0) {
      Fail(r, "rbd_stat");
      return;
    }
    r = rbd_get_features(image.get(), &features_);
    if (r < 0) {
      Fail(r, "rbd_get_features");
      return;
    }
    r = rbd_get_flags(image.get(), &flags_);
    if (r < 0) Fail(r, "rbd_get_flags");
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("size", BigIntFromUint64(env, stat_.size));
    out.Set("objectSize", FromUint64(env, stat_.obj_size));
    out.Set("objects", FromUint64(env, stat_.num_objs));
    out.Set("order", Napi::Number::New(env, stat_.order));
    out.Set("blockNamePrefix",
            std::string(stat_.block_name_prefix, strnlen(stat_.block_name_prefix, sizeof(stat_.block_name_prefix))));
    out.Set("features", FromUint64(env, features_));
    out.Set("flags", FromUint64(env, flags_));
    return out;
  }
  rbd_image_info_t stat_{};
  uint64_t features_ = 0, flags_ = 0;
};

class SizeWorker : public ImageWorker {
 public:
  explicit SizeWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdSize") { OptSnapshot(info, 3); }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    bool head = context_.snapshot.empty();
    int r = head ? FastHeadSize(ioctx, context_.image, &size_)
                 : FastSnapshot(ioctx, context_.image, context_.snapshot, &size_);
    if (r == 0 || r == -ENOENT || r == -ETIMEDOUT) {
      if (r == -ENOENT) Fail(r, "rados_exec", head ? "rbd.get_id" : "no such image or snapshot");
      if (r == -ETIMEDOUT) Fail(r, "rados_exec");
      return;
    }
    ImageRef image;
    if (!Open(image, true)) return;
    r = rbd_get_size(image.get(), &size_);
    if (r < 0) Fail(r, "rbd_get_size");
  }

  Napi::Value Resolve(Napi::Env env) override { return BigIntFromUint64(env, size_); }
  uint64_t size_ = 0;
};

class CloneWorker : public ClusterWorker {
 public:
  // (handle, parentPool, parentImage, parentSnap, childPool, childImage, layout)
  explicit CloneWorker(const Napi::CallbackInfo& info) : ClusterWorker(info, "rbdClone") {
    parent_pool_ = ArgRbdName(info, 1, "parentPool", "pool");
    parent_image_ = ArgRbdName(info, 2, "parentImage", "image");
    parent_snap_ = ArgRbdName(info, 3, "parentSnapshot", "snapshot");
    context_.pool = ArgRbdName(info, 4, "pool", "pool");
    context_.image = ArgRbdName(info, 5, "image", "image");
    layout_ = ImageLayout::From(ArgOptions(info, 6));
  }

 private:
  void Run() override {
    rados_ioctx_t parent, child;
    if (!IoCtx(parent_pool_, &parent) || !IoCtx(context_.pool, &child)) return;
    ImageOptions options;
    layout_.Apply(options);
    int r =
        rbd_clone3(parent, parent_image_.c_str(), parent_snap_.c_str(), child, context_.image.c_str(), options.get());
    if (r < 0) Fail(r, "rbd_clone3", "from " + parent_pool_ + "/" + parent_image_ + "@" + parent_snap_);
  }
  std::string parent_pool_, parent_image_, parent_snap_;
  ImageLayout layout_;
};

// (handle, pool, image, newName): the name is the last thing an import
// changes, so an image under its final name is always complete.
class RenameWorker : public ImageWorker {
 public:
  explicit RenameWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdRename") {
    new_name_ = ArgRbdName(info, 3, "newName", "image");
  }

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    int r = rbd_rename(ioctx, context_.image.c_str(), new_name_.c_str());
    if (r < 0) Fail(r, "rbd_rename", "to " + new_name_);
  }
  std::string new_name_;
};

class FlattenWorker : public ImageWorker {
 public:
  explicit FlattenWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdFlatten") {}

 private:
  void Run() override {
    ImageRef image;
    if (!Open(image, false)) return;
    int r = rbd_flatten(image.get());
    if (r < 0) Fail(r, "rbd_flatten");
  }
};

class ParentInfoWorker : public ImageWorker {
 public:
  explicit ParentInfoWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdParentInfo") {
    OptSnapshot(info, 3);
  }

 private:
  void Run() override {
    ImageRef image;
    if (!Open(image, true)) return;
    rbd_linked_image_spec_t parent{};
    rbd_snap_spec_t snap{};
    int r = rbd_get_parent(image.get(), &parent, &snap);
    if (r == -ENOENT) return;  // no parent: resolves null
    if (r < 0) {
      Fail(r, "rbd_get_parent");
      return;
    }
    has_parent_ = true;
    pool_ = parent.pool_name;
    namespace_ = parent.pool_namespace;
    image_ = parent.image_name;
    image_id_ = parent.image_id;
    trash_ = parent.trash;
    snap_ = snap.name;
    rbd_linked_image_spec_cleanup(&parent);
    rbd_snap_spec_cleanup(&snap);
  }
  Napi::Value Resolve(Napi::Env env) override {
    if (!has_parent_) return env.Null();
    Napi::Object out = Napi::Object::New(env);
    out.Set("pool", pool_);
    out.Set("namespace", namespace_);
    out.Set("image", image_);
    out.Set("imageId", image_id_);
    out.Set("snapshot", snap_);
    out.Set("trash", trash_);
    return out;
  }
  bool has_parent_ = false, trash_ = false;
  std::string pool_, namespace_, image_, image_id_, snap_;
};

void InitImageOps(Napi::Env env, Napi::Object exports) {
  exports.Set("rbdList", Napi::Function::New(env, Start<ListWorker>, "rbdList"));
  exports.Set("rbdExists", Napi::Function::New(env, Start<ExistsWorker>, "rbdExists"));
  exports.Set("rbdCreate", Napi::Function::New(env, Start<CreateWorker>, "rbdCreate"));
  exports.Set("rbdRemove", Napi::Function::New(env, Start<RemoveWorker>, "rbdRemove"));
  exports.Set("rbdResize", Napi::Function::New(env, Start<ResizeWorker>, "rbdResize"));
  exports.Set("rbdStat", Napi::Function::New(env, Start<StatWorker>, "rbdStat"));
  exports.Set("rbdSize", Napi::Function::New(env, Start<SizeWorker>, "rbdSize"));
  exports.Set("rbdClone", Napi::Function::New(env, Start<CloneWorker>, "rbdClone"));
  exports.Set("rbdFlatten", Napi::Function::New(env, Start<FlattenWorker>, "rbdFlatten"));
  exports.Set("rbdRename", Napi::Function::New(env, Start<RenameWorker>, "rbdRename"));
  exports.Set("rbdParentInfo", Napi::Function::New(env, Start<ParentInfoWorker>, "rbdParentInfo"));
}

}  // namespace ib
