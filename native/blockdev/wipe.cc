// Clearing a range of a disk (nova's volume_clear for LVM, and wiping raw files):
//   blockdevZero(path, { offset, length, onProgress, abort }) -> { bytes }
//     BLKZEROOUT (block device) or fallocate(FALLOC_FL_ZERO_RANGE) (file) in
//     steps, falling back to writing zeros where those are unsupported.
//   blockdevDiscard(path, { offset, length }) -> { bytes }
//     BLKDISCARD (block device) or fallocate(PUNCH_HOLE | KEEP_SIZE) (file).
//     Discarded blocks of a device need not read back as zeros.
//   blockdevOverwriteRandom(path, { offset, length, onProgress, abort }) -> { bytes }
//     One pass of pseudo-random data, like `shred -n1`: xoshiro256** seeded
//     from getrandom(2), fast enough that the disk is the bottleneck.
// Ranges: block devices take multiples of 512; the length is capped at the end.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "blockdev/blockdev.h"
#include "blockdev/worker.h"
#include "blockdev/zeroer.h"
#include "common/abort_handle.h"
#include "common/progress.h"

namespace ib::blockdev {

// Shared by the three: a checked range, progress, abort, and a { bytes } result.
class RangeWorker : public BlockdevWorker {
 public:
  RangeWorker(const Napi::CallbackInfo& info, const char* name)
      : BlockdevWorker(info, name), progress_(info.Env(), ArgOptions(info, 1).Get("onProgress"), name) {
    Napi::Object opts = ArgOptions(info, 1);
    range_ = Range::From(opts);
    abort_ = AbortHandle::From(opts, "abort");
  }

 protected:
  // Worker thread: open for writing and fit the range; false after a failure.
  bool Prepare(Target* target) {
    if (!Open(target, O_WRONLY)) return false;
    std::string why = range_.Fit(*target);
    return why.empty() ? true : Fail(-EINVAL, name_, why);
  }
  bool Sync(const Target& target) { return fdatasync(target.fd.get()) < 0 ? Fail(-errno, "fdatasync") : true; }
  bool Aborted(uint64_t done) {
    return abort_->load() ? Fail(-ECANCELED, name_, "aborted after " + std::to_string(done) + " bytes") : false;
  }
  // Main thread: the last report, before the promise settles (see progress.h).
  void BeforeResolve(Napi::Env env) override { progress_.Finish(range_.length, range_.length); }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("bytes", FromUint64(env, range_.length));
    return out;
  }

  Range range_;
  AbortFlag abort_;
  Progress progress_;
};

class ZeroWorker : public RangeWorker {
 public:
  explicit ZeroWorker(const Napi::CallbackInfo& info) : RangeWorker(info, "blockdevZero") {}

 private:
  void Run() override {
    Target target;
    if (!Prepare(&target)) return;
    // ZERO_RANGE (not PUNCH_HOLE) so a preallocated file stays preallocated.
    Zeroer zeroer(target, Zeroer::FileMode::kZeroRange, abort_);
    uint64_t done = 0;
    while (done < range_.length) {
      if (Aborted(done)) return;
      uint64_t n = std::min(Zeroer::kStep, range_.length - done);
      IoError e = zeroer.Zero(range_.offset + done, n);
      if (e.err == -ECANCELED) {
        Aborted(done);
        return;
      }
      if (e) {
        Fail(e.err, e.syscall, "at offset " + std::to_string(range_.offset + done));
        return;
      }
      done += n;
      progress_.Report(done, range_.length);
    }
    if (zeroer.wrote() && !Sync(target)) return;
  }
};

class DiscardWorker : public RangeWorker {
 public:
  explicit DiscardWorker(const Napi::CallbackInfo& info) : RangeWorker(info, "blockdevDiscard") {}

 private:
  void Run() override {
    Target target;
    if (!Prepare(&target) || range_.length == 0) return;
    if (target.block) {
      uint64_t range[2] = {range_.offset, range_.length};
      if (ioctl(target.fd.get(), BLKDISCARD, range) < 0) Fail(-errno, "ioctl(BLKDISCARD)");
      return;
    }
    if (fallocate(target.fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(range_.offset),
                  static_cast<off_t>(range_.length)) < 0)
      Fail(-errno, "fallocate");
  }
};

// xoshiro256** (Blackman & Vigna): not for secrets, only to make old data
// unreadable the way shred's one random pass does.
class Xoshiro256 {
 public:
  bool Seed() {
    uint8_t* p = reinterpret_cast<uint8_t*>(s_);
    size_t got = 0;
    while (got < sizeof(s_)) {
      ssize_t n = getrandom(p + got, sizeof(s_) - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      got += static_cast<size_t>(n);
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one state it must avoid
    return true;
  }
  uint64_t Next() {
    uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  void Fill(char* buf, size_t len) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      uint64_t v = Next();
      std::memcpy(buf + i, &v, 8);
    }
    if (i < len) {
      uint64_t v = Next();
      std::memcpy(buf + i, &v, len - i);
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4] = {0, 0, 0, 0};
};

class OverwriteRandomWorker : public RangeWorker {
 public:
  explicit OverwriteRandomWorker(const Napi::CallbackInfo& info) : RangeWorker(info, "blockdevOverwriteRandom") {}

 private:
  static constexpr size_t kChunk = 4 << 20;

  void Run() override {
    Target target;
    if (!Prepare(&target)) return;
    Xoshiro256 rng;
    if (!rng.Seed()) {
      Fail(-errno, "getrandom");
      return;
    }
    Buffer buf;
    if (!buf.Allocate(kChunk)) {
      Fail(-ENOMEM, "posix_memalign");
      return;
    }
    uint64_t done = 0;
    while (done < range_.length) {
      if (Aborted(done)) return;
      size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, range_.length - done));
      rng.Fill(buf.data(), n);
      int r = PwriteAll(target.fd.get(), buf.data(), n, range_.offset + done);
      if (r < 0) {
        Fail(r, "pwrite", "at offset " + std::to_string(range_.offset + done));
        return;
      }
      done += n;
      progress_.Report(done, range_.length);
    }
    if (!Sync(target)) return;
  }
};

void InitWipe(Napi::Env env, Napi::Object exports) {
  exports.Set("blockdevZero", Napi::Function::New(env, StartWorker<ZeroWorker>, "blockdevZero"));
  exports.Set("blockdevDiscard", Napi::Function::New(env, StartWorker<DiscardWorker>, "blockdevDiscard"));
  exports.Set("blockdevOverwriteRandom",
              Napi::Function::New(env, StartWorker<OverwriteRandomWorker>, "blockdevOverwriteRandom"));
}

}  // namespace ib::blockdev
