// copyRaw(src, dst, { dstMode = 'create', sparse = true, reflink = 'auto',
//                     chunkSize = 4 MiB, onProgress, abort })
//   -> { size, bytesCopied, bytesSkipped, reflinked }
//
// Copies the raw bytes of a regular file or block device:
//   - file -> file: FICLONE (a reflink: instant, shares blocks) unless
//     reflink is 'never'; 'always' fails where the filesystem cannot clone.
//   - otherwise a streaming copy: SEEK_DATA/SEEK_HOLE skip the source's
//     holes and, with sparse, all-zero 64 KiB pieces are not written as data.
//   - dstMode 'create': a new file made with O_EXCL and sized with ftruncate,
//     so skipped ranges stay holes; it is removed on failure or abort.
//   - dstMode 'existing': a file (truncated to the source size) or a block
//     device (at least the source size). Its old contents are unknown, so
//     skipped ranges are zeroed: PUNCH_HOLE on a file, BLKZEROOUT on a device
//     (zero-buffer writes where unsupported). It is never removed.
// bytesCopied counts bytes written as data; bytesSkipped the zeros and holes
// that were not (left as holes or zeroed cheaply); together they make size.
//
// Threads: the constructor on the main thread, Run() on a libuv pool thread.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "blockdev/blockdev.h"
#include "blockdev/worker.h"
#include "blockdev/zeroer.h"
#include "common/abort_handle.h"
#include "common/progress.h"

namespace ib::blockdev {

static constexpr uint64_t kDefaultChunk = 4ULL << 20;
static constexpr uint64_t kMaxChunk = 64ULL << 20;
// Granularity of zero detection inside a chunk: the qcow2 cluster size, and a
// multiple of 4 KiB pages so a skipped piece can become a hole.
static constexpr uint64_t kBlock = 64ULL << 10;

class CopyWorker : public BlockdevWorker {
 public:
  explicit CopyWorker(const Napi::CallbackInfo& info)
      : BlockdevWorker(info, "copyRaw"), progress_(info.Env(), ArgOptions(info, 2).Get("onProgress"), "copyRaw") {
    dst_ = ArgString(info, 1, "dst");
    Napi::Object opts = ArgOptions(info, 2);
    std::string mode = OptString(opts, "dstMode", "create");
    if (mode != "create" && mode != "existing")
      ThrowArgError(info.Env(), "'create' or 'existing'", "dstMode", opts.Get("dstMode"));
    create_ = mode == "create";
    std::string reflink = OptString(opts, "reflink", "auto");
    if (reflink != "auto" && reflink != "always" && reflink != "never")
      ThrowArgError(info.Env(), "'auto', 'always' or 'never'", "reflink", opts.Get("reflink"));
    reflink_ = reflink;
    sparse_ = OptBool(opts, "sparse", true);
    chunk_ = OptUint64(opts, "chunkSize", kDefaultChunk);
    if (chunk_ == 0 || chunk_ > kMaxChunk || chunk_ % 512 != 0)
      ThrowArgError(info.Env(), "a multiple of 512 up to 64 MiB", "chunkSize", opts.Get("chunkSize"));
    abort_ = AbortHandle::From(opts, "abort");
  }

 private:
  void Run() override {
    Target src;
    if (!Open(&src, O_RDONLY)) return;
    size_ = src.size;
    posix_fadvise(src.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

    Target dst;
    int r = OpenTarget(dst_, create_ ? (O_WRONLY | O_CREAT | O_EXCL) : O_WRONLY, &dst);
    if (r != 0) {
      // With O_EXCL the file exists only if this open made it.
      if (create_ && dst.fd.get() >= 0) ::unlink(dst_.c_str());
      OpenError e = DescribeOpenError(r, dst);
      FailDst(e.err, e.syscall, e.detail);
      return;
    }
    // The mode is explicit, not left to the umask: the in-process LVM runner
    // (liblvm2cmd) sets the process umask to 077 while a command runs.
    bool ok = !create_ || fchmod(dst.fd.get(), 0644) == 0 || FailDst(-errno, "fchmod");
    ok = ok && Copy(src, dst);
    if (ok) {
      int closed = dst.fd.Close();
      if (closed < 0) ok = FailDst(closed, "close");
    }
    // Only what this call created is removed; never an existing target.
    if (!ok && create_) {
      dst.fd.Close();
      if (::unlink(dst_.c_str()) < 0 && errno != ENOENT)
        AddDetail("and removing the partial copy failed: " + ErrnoName(-errno));
    }
  }

  bool Copy(const Target& src, Target& dst) {
    if (src.dev == dst.dev && src.ino == dst.ino)
      return FailDst(-EINVAL, "copyRaw", "source and destination are the same");
    if (src.block && dst.block && src.rdev == dst.rdev)
      return FailDst(-EINVAL, "copyRaw", "source and destination are the same device");
    if (!src.block && !dst.block && reflink_ != "never" && Reflink(src, dst)) return true;
    if (Failed()) return false;
    if (dst.block) {
      if (dst.size < size_)
        return FailDst(-ENOSPC, "copyRaw",
                       "destination holds " + std::to_string(dst.size) + " bytes, source has " + std::to_string(size_));
    } else if (ftruncate(dst.fd.get(), static_cast<off_t>(size_)) < 0) {
      return FailDst(-errno, "ftruncate");
    }
    return Stream(src, dst) && Sync(dst);
  }

  // True when FICLONE did the whole copy; false to fall back (or after Fail).
  bool Reflink(const Target& src, const Target& dst) {
    if (ioctl(dst.fd.get(), FICLONE, src.fd.get()) == 0) {
      // An existing, longer destination keeps its tail after a clone.
      if (ftruncate(dst.fd.get(), static_cast<off_t>(size_)) < 0) return FailDst(-errno, "ftruncate");
      reflinked_ = true;
      skipped_ = 0;
      copied_ = size_;
      return Sync(dst);
    }
    int e = errno;
    // EXDEV: another filesystem; EOPNOTSUPP/ENOTTY/EINVAL: no clone support.
    bool unsupported = e == EXDEV || e == EOPNOTSUPP || e == ENOTTY || e == EINVAL || e == ENOSYS;
    if (reflink_ == "always" || !unsupported) return FailDst(-e, "ioctl(FICLONE)");
    return false;
  }

  bool Stream(const Target& src, const Target& dst) {
    Buffer buf;
    if (!buf.Allocate(chunk_)) return Fail(-ENOMEM, "posix_memalign");
    // A fresh file reads zeros already; an existing target must be zeroed.
    Zeroer zeroer(dst, Zeroer::FileMode::kPunchHole, abort_);
    bool seek = sparse_ && !src.block;
    uint64_t offset = 0, data_end = 0;
    while (offset < size_) {
      if (Aborted(offset)) return false;
      if (seek && offset >= data_end) {
        off_t data = lseek(src.fd.get(), static_cast<off_t>(offset), SEEK_DATA);
        if (data < 0 && errno != ENXIO) {
          seek = false;  // no SEEK_DATA here: read everything
          data_end = size_;
        } else {
          uint64_t start = data < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(data), size_);
          if (start > offset) {
            if (!Skip(zeroer, offset, start - offset)) return false;
            offset = start;
            progress_.Report(offset, size_);
            continue;
          }
          off_t hole = lseek(src.fd.get(), static_cast<off_t>(offset), SEEK_HOLE);
          data_end = hole < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(hole), size_);
        }
      } else if (!seek) {
        data_end = size_;
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_, data_end - offset));
      int r = PreadAll(src.fd.get(), buf.data(), n, offset);
      if (r == -ENODATA) return Fail(-EIO, "pread", "the source shrank during the copy");
      if (r < 0) return Fail(r, "pread", "at offset " + std::to_string(offset));
      if (!Land(zeroer, dst, buf.data(), n, offset)) return false;
      offset += n;
      progress_.Report(offset, size_);
    }
    if (!Flush(zeroer)) return false;
    return true;
  }

  // Writes one chunk read from `offset`. With sparse, it is looked at in
  // kBlock pieces so a chunk that is mostly zeros stays mostly holes; runs of
  // non-zero pieces go out in one pwrite.
  bool Land(Zeroer& zeroer, const Target& dst, const char* data, size_t n, uint64_t offset) {
    size_t block = sparse_ ? static_cast<size_t>(std::min<uint64_t>(kBlock, n)) : n;
    size_t pos = 0;
    while (pos < n) {
      size_t len = std::min(block, n - pos);
      if (sparse_ && AllZero(data + pos, len)) {
        if (!Skip(zeroer, offset + pos, len)) return false;
        pos += len;
        continue;
      }
      size_t end = pos + len;
      while (end < n && !(sparse_ && AllZero(data + end, std::min(block, n - end)))) end += std::min(block, n - end);
      if (!Flush(zeroer)) return false;
      int r = PwriteAll(dst.fd.get(), data + pos, end - pos, offset + pos);
      if (r < 0) return FailDst(r, "pwrite", "at offset " + std::to_string(offset + pos));
      copied_ += end - pos;
      pos = end;
    }
    return true;
  }

  // Zero ranges are gathered and zeroed in one call when data resumes, so a
  // long run of zero chunks costs one ioctl, not one per chunk.
  bool Skip(Zeroer& zeroer, uint64_t offset, uint64_t length) {
    if (pending_length_ != 0 && pending_offset_ + pending_length_ != offset && !Flush(zeroer)) return false;
    if (pending_length_ == 0) pending_offset_ = offset;
    pending_length_ += length;
    skipped_ += length;
    return true;
  }
  bool Flush(Zeroer& zeroer) {
    if (pending_length_ == 0) return true;
    uint64_t offset = pending_offset_, length = pending_length_;
    pending_length_ = 0;
    if (create_) return true;
    IoError e = zeroer.Zero(offset, length);
    if (e.err == -ECANCELED) {
      Aborted(offset);
      return false;
    }
    if (e) return FailDst(e.err, e.syscall, "zeroing at offset " + std::to_string(offset));
    return true;
  }

  bool Sync(const Target& dst) { return fsync(dst.fd.get()) < 0 ? FailDst(-errno, "fsync") : true; }
  // Records -ECANCELED and returns true when the caller asked to stop.
  bool Aborted(uint64_t done) {
    if (!abort_->load()) return false;
    Fail(-ECANCELED, "copyRaw", "aborted after " + std::to_string(done) + " bytes");
    return true;
  }
  bool FailDst(int err, const char* syscall, std::string detail = "") {
    if (!Failed()) context_.path = dst_;
    return Fail(err, syscall, std::move(detail));
  }

  // Main thread: the last report, before the promise settles (see progress.h).
  void BeforeResolve(Napi::Env env) override { progress_.Finish(size_, size_); }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("size", FromUint64(env, size_));
    out.Set("bytesCopied", FromUint64(env, copied_));
    out.Set("bytesSkipped", FromUint64(env, skipped_));
    out.Set("reflinked", Napi::Boolean::New(env, reflinked_));
    return out;
  }

  std::string dst_, reflink_;
  bool create_ = true, sparse_ = true, reflinked_ = false;
  uint64_t chunk_ = kDefaultChunk, size_ = 0, copied_ = 0, skipped_ = 0;
  uint64_t pending_offset_ = 0, pending_length_ = 0;
  AbortFlag abort_;
  Progress progress_;
};

void InitCopy(Napi::Env env, Napi::Object exports) {
  exports.Set("copyRaw", Napi::Function::New(env, StartWorker<CopyWorker>, "copyRaw"));
}

}  // namespace ib::blockdev
