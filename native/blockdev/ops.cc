// Small one-call operations:
//   blockdevSize(path) -> number
//     BLKGETSIZE64 for a block device, st_size for a regular file.
//   blockdevFallocate(path, { size, offset = 0, keepSize = false }) -> undefined
//     fallocate(2) mode 0 or FALLOC_FL_KEEP_SIZE over [offset, offset + size):
//     nova's preallocation is `fallocate -n -l size`, i.e. keepSize: true.
//     On failure a regular file is cut back to its old length.
#include <fcntl.h>
#include <unistd.h>

#include "blockdev/blockdev.h"
#include "blockdev/worker.h"

namespace ib::blockdev {

class SizeWorker : public BlockdevWorker {
 public:
  explicit SizeWorker(const Napi::CallbackInfo& info) : BlockdevWorker(info, "blockdevSize") {}

 private:
  void Run() override {
    Target target;
    if (Open(&target, O_RDONLY)) size_ = target.size;
  }
  Napi::Value Resolve(Napi::Env env) override { return FromUint64(env, size_); }
  uint64_t size_ = 0;
};

class FallocateWorker : public BlockdevWorker {
 public:
  explicit FallocateWorker(const Napi::CallbackInfo& info) : BlockdevWorker(info, "blockdevFallocate") {
    Napi::Object opts = ArgOptions(info, 1);
    Napi::Value size = opts.Get("size");
    size_ = ToUint64(info.Env(), size, "size");
    if (size_ == 0) ThrowArgError(info.Env(), "a positive integer", "size", size);
    offset_ = OptUint64(opts, "offset", 0);
    keep_size_ = OptBool(opts, "keepSize", false);
  }

 private:
  void Run() override {
    // No O_CREAT: preallocation applies to a disk that was just created.
    Target target;
    if (!Open(&target, O_WRONLY)) return;
    int mode = keep_size_ ? FALLOC_FL_KEEP_SIZE : 0;
    if (fallocate(target.fd.get(), mode, static_cast<off_t>(offset_), static_cast<off_t>(size_)) < 0) {
      Fail(-errno, "fallocate");
      // A failed fallocate (ENOSPC) can keep what it allocated: blocks past
      // the end (keepSize) or a longer file. Cut back to the old length so a
      // failed preallocation does not leave the filesystem full.
      if (!target.block && ftruncate(target.fd.get(), static_cast<off_t>(target.size)) < 0)
        AddDetail("and cutting the file back failed: " + ErrnoName(-errno));
      return;
    }
    int r = target.fd.Close();
    if (r < 0) Fail(r, "close");
  }
  uint64_t size_ = 0, offset_ = 0;
  bool keep_size_ = false;
};

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("blockdevSize", Napi::Function::New(env, StartWorker<SizeWorker>, "blockdevSize"));
  exports.Set("blockdevFallocate", Napi::Function::New(env, StartWorker<FallocateWorker>, "blockdevFallocate"));
}

}  // namespace ib::blockdev

namespace ib {

void InitBlockdev(Napi::Env env, Napi::Object exports) {
  blockdev::InitOps(env, exports);
  blockdev::InitWipe(env, exports);
  blockdev::InitCopy(env, exports);
}

}  // namespace ib
