// File-descriptor plumbing shared by the blockdev workers: an owning fd, an
// aligned buffer, full-length pread/pwrite, and opening a path that must be a
// regular file or a block device (with its size). Worker thread only: nothing
// here touches N-API.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace ib::blockdev {

// A closed-on-exit file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Close explicitly to see the error (close can report a failed writeback).
  int Close() {
    int r = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return r < 0 ? -errno : 0;
  }

 private:
  int fd_;
};

// A page-aligned buffer, so the same code works if O_DIRECT is ever added.
class Buffer {
 public:
  // Returns false when the allocation fails.
  bool Allocate(size_t size);
  char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<char, decltype(&std::free)> data_{nullptr, &std::free};
  size_t size_ = 0;
};

// An opened regular file or block device.
struct Target {
  Fd fd;
  bool block = false;
  uint64_t size = 0;  // st_size, or BLKGETSIZE64 for a block device
  dev_t dev = 0;      // identity, to refuse copying a file onto itself
  ino_t ino = 0;
  dev_t rdev = 0;
};

// Opens `path` with `flags` and fills `out`. Returns 0 or -errno; a path that
// is neither a regular file nor a block device gives -EINVAL.
int OpenTarget(const std::string& path, int flags, Target* out);

// Re-reads type and size of an already open descriptor into `out`.
int StatTarget(Target* out);

// Whole-length I/O, retrying on EINTR and short counts. Return 0 or -errno;
// a read that meets end of file early gives -EIO.
int PreadAll(int fd, char* buf, size_t len, uint64_t offset);
int PwriteAll(int fd, const char* buf, size_t len, uint64_t offset);

bool AllZero(const char* buf, size_t len);

}  // namespace ib::blockdev
