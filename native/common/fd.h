// File-descriptor plumbing shared by every native file user (image
// inspection, overlays, block-device work, RBD import/export): the one owning
// fd type, an open that never blocks on a FIFO, an aligned buffer,
// whole-length pread/pwrite, and the zero test.
// Worker threads only: nothing here touches N-API.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

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
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
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

// Which file types OpenFile accepts.
enum class FileKinds {
  kRegular,         // image files, disk.info, overlays
  kRegularOrBlock,  // raw disks: a file or a block device (LVM volume, loop device)
};

// OpenFile's answer for a path that exists but is of a refused type (a FIFO,
// a directory, a socket, a character device). Positive, so it can never be
// mistaken for a -errno.
constexpr int kWrongFileType = 1;

// Opens `path` (flags | O_CLOEXEC, `mode` when creating) without ever
// blocking: O_NONBLOCK for the open itself, so a FIFO with no writer (or, for
// writing, no reader) cannot hang the thread; then fstat, and only a type in
// `kinds` is kept, with O_NONBLOCK cleared again. Returns 0, -errno, or
// kWrongFileType with `*st` describing what the path is. `*out` holds the
// descriptor whenever open(2) itself succeeded, even if a later check failed:
// with O_CREAT | O_EXCL that tells the caller it made the file.
int OpenFile(const std::string& path, int flags, mode_t mode, FileKinds kinds, Fd* out, struct stat* st);

// "a FIFO", "a directory", ...: for the message of a kWrongFileType refusal.
std::string FileTypeName(mode_t mode);

// The detail of a kWrongFileType refusal, e.g. "is a FIFO, not a regular file".
std::string WrongFileTypeDetail(mode_t mode, FileKinds kinds);

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
