// File-descriptor plumbing shared by every worker that moves bytes: an owning
// fd, an aligned buffer, whole-length pread/pwrite, and the zero test.
// Worker threads only: nothing here touches N-API.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace ib {

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

// Whole-length I/O, retrying on EINTR and short counts. Return 0 or -errno;
// a read that meets end of file early gives -ENODATA (the file shrank), a
// write that makes no progress -ENOSPC.
int PreadAll(int fd, char* buf, size_t len, uint64_t offset);
int PwriteAll(int fd, const char* buf, size_t len, uint64_t offset);

bool AllZero(const char* buf, size_t len);

}  // namespace ib
