// Moving bytes between local files and RBD images.
//
//   rbdImport(h, pool, image, path, { features, order, chunkSize, concurrency, onProgress, abort })
//     rbd_create4 + rbd_open + rbd_aio_write (several in flight) + rbd_flush;
//     holes (SEEK_DATA) and all-zero chunks are skipped because a new image
//     reads as zeros. On failure or abort the partial image is removed.
//   rbdExport(h, pool, image, path, { snapshot, chunkSize, concurrency, onProgress, abort })
//     rbd_open_read_only + rbd_aio_read (several in flight) + pwrite of the
//     non-zero chunks into a new file sized with ftruncate, so zeros stay holes.
//     On failure or abort the file is removed.
//
// Threads: everything below runs in Execute() on an Executor thread; aio
// completions are waited for on that same thread (no librbd callbacks).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/abort_handle.h"
#include "common/fd.h"
#include "common/progress.h"
#include "rbd/image_worker.h"

namespace ib {

static constexpr uint64_t kDefaultChunk = 4ULL << 20;
static constexpr uint64_t kMaxChunk = 64ULL << 20;
static constexpr uint64_t kDefaultConcurrency = 8;
static constexpr uint64_t kMaxConcurrency = 64;

// One buffer and the aio in flight on parts of it, reused round-robin.
struct Slot {
  std::unique_ptr<char, decltype(&std::free)> buf{nullptr, &std::free};
  std::vector<rbd_completion_t> completions;
  uint64_t offset = 0, length = 0;
};

// Waits for a slot's aio; returns 0 or the first negative errno.
static int64_t Reap(Slot& slot) {
  int64_t first = 0;
  for (rbd_completion_t c : slot.completions) {
    rbd_aio_wait_for_complete(c);
    int64_t r = rbd_aio_get_return_value(c);
    rbd_aio_release(c);
    if (r < 0 && first == 0) first = r;
  }
  slot.completions.clear();
  return first;
}

// Granularity of zero detection inside a chunk: a new image reads zeros, so
// only the non-zero runs of each chunk are written.
static constexpr uint64_t kZeroGranule = 64 << 10;

class TransferWorker : public ImageWorker {
 public:
  TransferWorker(const Napi::CallbackInfo& info, const char* name)
      : ImageWorker(info, name), progress_(info.Env(), ArgOptions(info, 4).Get("onProgress"), name) {
    path_ = ArgString(info, 3, "path");
    Napi::Object opts = ArgOptions(info, 4);
    chunk_ = OptUint64(opts, "chunkSize", kDefaultChunk);
    concurrency_ = OptUint64(opts, "concurrency", kDefaultConcurrency);
    if (chunk_ == 0 || chunk_ > kMaxChunk || chunk_ % 512 != 0)
      ThrowArgError(info.Env(), "a multiple of 512 up to 64 MiB", "chunkSize", opts.Get("chunkSize"));
    if (concurrency_ == 0 || concurrency_ > kMaxConcurrency)
      ThrowArgError(info.Env(), "an integer from 1 to 64", "concurrency", opts.Get("concurrency"));
    abort_ = AbortHandle::From(opts, "abort");
  }

 protected:
  bool Aborted() const { return abort_->load() || state_->aborting(); }
  bool AllocateSlots() {
    slots_.resize(concurrency_);
    for (auto& slot : slots_) {
      void* mem = nullptr;
      if (posix_memalign(&mem, 4096, chunk_) != 0) return Fail(-ENOMEM, "posix_memalign");
      slot.buf.reset(static_cast<char*>(mem));
    }
    return true;
  }
  // The environment is gone: free the chunk buffers (concurrency x chunk
  // size, 32 MiB by default) with the connection.
  void Abandon() override {
    slots_.clear();
    slots_.shrink_to_fit();
    ImageWorker::Abandon();
  }
  // Waits for every outstanding aio; keeps the first error.
  int64_t Drain() {
    int64_t first = 0;
    for (auto& slot : slots_) {
      int64_t r = Reap(slot);
      if (r < 0 && first == 0) first = r;
    }
    return first;
  }
  // The last report is made here, on the main thread, so it reaches the
  // callback before the promise settles and nothing arrives after it.
  void BeforeResolve(Napi::Env env) override { progress_.Finish(size_, size_); }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("size", BigIntFromUint64(env, size_));
    out.Set("bytesWritten", BigIntFromUint64(env, written_));
    return out;
  }

  std::string path_;
  uint64_t chunk_, concurrency_;
  uint64_t size_ = 0, written_ = 0;
  AbortFlag abort_;
  Progress progress_;
  std::vector<Slot> slots_;
};

// Size of a regular file or a block device.
static int SourceSize(int fd, uint64_t* size) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (S_ISBLK(st.st_mode)) return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
  if (!S_ISREG(st.st_mode)) return -EINVAL;
  *size = static_cast<uint64_t>(st.st_size);
  return 0;
}

class ImportWorker : public TransferWorker {
 public:
  explicit ImportWorker(const Napi::CallbackInfo& info) : TransferWorker(info, "rbdImport") {
    layout_ = ImageLayout::From(ArgOptions(info, 4));
  }

 private:
  void Run() override {
    Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      FailPath(-errno, "open", path_);
      return;
    }
    int r = SourceSize(fd.get(), &size_);
    if (r < 0) {
      FailPath(r, "fstat", path_);
      return;
    }
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx) || !AllocateSlots()) return;
    ImageOptions options;
    layout_.Apply(options);
    r = rbd_create4(ioctx, context_.image.c_str(), size_, options.get());
    if (r < 0) {
      Fail(r, "rbd_create4");
      return;
    }
    // From here on a failure must not leave a partial image behind.
    if (!Copy(ioctx, fd.get())) {
      int removed = rbd_remove(ioctx, context_.image.c_str());
      // Keep the original error; say when the cleanup failed too.
      if (removed < 0 && removed != -ENOENT) AddDetail("and removing the partial image failed: " + ErrnoName(removed));
    }
  }

  bool Copy(rados_ioctx_t ioctx, int fd) {
    ImageRef image;
    int r = rbd_open(ioctx, context_.image.c_str(), image.out(), nullptr);
    if (r < 0) return Fail(r, "rbd_open");
    uint64_t offset = 0, data_end = 0;
    size_t next = 0;
    bool seek_data = true;
    while (offset < size_) {
      if (Aborted()) {
        Drain();
        return Fail(-ECANCELED, "rbdImport", "aborted after " + std::to_string(offset) + " bytes");
      }
      // Follow the file's data extents exactly: holes are never read.
      if (offset >= data_end) {
        if (!NextExtent(fd, &seek_data, &offset, &data_end)) break;
        progress_.Report(offset, size_);
      }
      Slot& slot = slots_[next];
      int64_t done = Reap(slot);
      if (done < 0) {
        Drain();
        return Fail(static_cast<int>(done), "rbd_aio_write", "before offset " + std::to_string(offset));
      }
      uint64_t length = std::min<uint64_t>(chunk_, data_end - offset);
      r = PreadAll(fd, slot.buf.get(), length, offset);
      if (r < 0) {
        Drain();
        return r == -ENODATA ? FailPath(-EIO, "pread", path_, "the file shrank while being imported")
                             : FailPath(r, "pread", path_);
      }
      if (!WriteNonZeroRuns(image.get(), slot, offset, length)) {
        Drain();
        return false;
      }
      if (!slot.completions.empty()) next = (next + 1) % slots_.size();
      offset += length;
      progress_.Report(offset, size_);
    }
    int64_t drained = Drain();
    if (drained < 0) return Fail(static_cast<int>(drained), "rbd_aio_write");
    r = rbd_flush(image.get());
    if (r < 0) return Fail(r, "rbd_flush");
    r = image.Reset();
    if (r < 0) return Fail(r, "rbd_close");
    return true;
  }

  // Moves [offset, data_end) to the next data extent at or after `offset`;
  // false when only holes remain. Without SEEK_DATA support (some file
  // systems, block devices report everything as data) the rest is one extent.
  bool NextExtent(int fd, bool* seek_data, uint64_t* offset, uint64_t* data_end) {
    if (*seek_data) {
      off_t data = lseek(fd, static_cast<off_t>(*offset), SEEK_DATA);
      if (data < 0 && errno == ENXIO) return false;
      if (data >= 0) {
        off_t hole = lseek(fd, data, SEEK_HOLE);
        *offset = static_cast<uint64_t>(data);
        *data_end = hole < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(hole), size_);
        return *offset < size_;
      }
      *seek_data = false;
    }
    *data_end = size_;
    return true;
  }

  // Submits one aio write per run of non-zero granules of the chunk.
  bool WriteNonZeroRuns(rbd_image_t image, Slot& slot, uint64_t offset, uint64_t length) {
    slot.offset = offset;
    slot.length = length;
    const char* buf = slot.buf.get();
    uint64_t pos = 0;
    while (pos < length) {
      while (pos < length && AllZero(buf + pos, std::min(kZeroGranule, length - pos))) pos += kZeroGranule;
      if (pos >= length) break;
      uint64_t run = pos;
      while (run < length && !AllZero(buf + run, std::min(kZeroGranule, length - run))) run += kZeroGranule;
      run = std::min(run, length);
      rbd_completion_t c = nullptr;
      rbd_aio_create_completion(nullptr, nullptr, &c);
      int r = rbd_aio_write(image, offset + pos, run - pos, buf + pos, c);
      if (r < 0) {
        rbd_aio_release(c);
        return Fail(r, "rbd_aio_write");
      }
      slot.completions.push_back(c);
      written_ += run - pos;
      pos = run;
    }
    return true;
  }

  ImageLayout layout_;
};

class ExportWorker : public TransferWorker {
 public:
  explicit ExportWorker(const Napi::CallbackInfo& info) : TransferWorker(info, "rbdExport") {
    Napi::Object opts = ArgOptions(info, 4);
    context_.snapshot = OptRbdName(opts, "snapshot", "snapshot");
    overwrite_ = OptBool(opts, "overwrite", false);
  }

 private:
  void Run() override {
    ImageRef image;
    if (!Open(image, true) || !AllocateSlots()) return;
    int r = rbd_get_size(image.get(), &size_);
    if (r < 0) {
      Fail(r, "rbd_get_size");
      return;
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite_ ? O_TRUNC : O_EXCL);
    Fd fd(::open(path_.c_str(), flags, 0644));
    if (fd.get() < 0) {
      FailPath(-errno, "open", path_);
      return;
    }
    bool ok = Copy(image.get(), fd.get());
    if (ok) {
      if (fsync(fd.get()) < 0) ok = FailPath(-errno, "fsync", path_);
      int closed = fd.Close();
      if (ok && closed < 0) ok = FailPath(closed, "close", path_);
    }
    if (!ok) ::unlink(path_.c_str());
  }

  // Writes a completed read into the file unless it is all zeros.
  bool Land(Slot& slot, int fd) {
    int64_t r = Reap(slot);
    if (slot.length == 0) return true;
    uint64_t length = slot.length;
    slot.length = 0;
    if (r < 0) return Fail(static_cast<int>(r), "rbd_aio_read", "at offset " + std::to_string(slot.offset));
    if (AllZero(slot.buf.get(), length)) return true;
    int w = PwriteAll(fd, slot.buf.get(), length, slot.offset);
    if (w < 0) return FailPath(w, "pwrite", path_);
    written_ += length;
    return true;
  }

  bool Copy(rbd_image_t image, int fd) {
    if (ftruncate(fd, static_cast<off_t>(size_)) < 0) return FailPath(-errno, "ftruncate", path_);
    uint64_t offset = 0;
    size_t next = 0;
    bool ok = true;
    while (ok && offset < size_) {
      if (Aborted()) {
        ok = Fail(-ECANCELED, "rbdExport", "aborted after " + std::to_string(offset) + " bytes");
        break;
      }
      Slot& slot = slots_[next];
      if (!Land(slot, fd)) {
        ok = false;
        break;
      }
      uint64_t length = std::min<uint64_t>(chunk_, size_ - offset);
      slot.offset = offset;
      slot.length = length;
      rbd_completion_t c = nullptr;
      rbd_aio_create_completion(nullptr, nullptr, &c);
      int r = rbd_aio_read(image, offset, length, slot.buf.get(), c);
      if (r < 0) {
        rbd_aio_release(c);
        slot.length = 0;
        ok = Fail(r, "rbd_aio_read");
        break;
      }
      slot.completions.push_back(c);
      offset += length;
      next = (next + 1) % slots_.size();
      progress_.Report(offset, size_);
    }
    // Land the rest in submission order (or just wait for them after a failure).
    for (size_t i = 0; i < slots_.size(); i++) {
      Slot& slot = slots_[(next + i) % slots_.size()];
      if (ok) {
        ok = Land(slot, fd);
      } else {
        Reap(slot);
      }
    }
    return ok;
  }

  bool overwrite_ = false;
};

void InitTransfer(Napi::Env env, Napi::Object exports) {
  exports.Set("rbdImport", Napi::Function::New(env, Start<ImportWorker>, "rbdImport"));
  exports.Set("rbdExport", Napi::Function::New(env, Start<ExportWorker>, "rbdExport"));
}

}  // namespace ib
