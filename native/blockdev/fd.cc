#include "blockdev/fd.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace ib::blockdev {

bool Buffer::Allocate(size_t size) {
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, size == 0 ? 4096 : size) != 0) return false;
  data_.reset(static_cast<char*>(mem));
  size_ = size;
  return true;
}

int StatTarget(Target* out) {
  struct stat st;
  if (fstat(out->fd.get(), &st) < 0) return -errno;
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  out->rdev = st.st_rdev;
  if (S_ISBLK(st.st_mode)) {
    out->block = true;
    uint64_t size = 0;
    if (ioctl(out->fd.get(), BLKGETSIZE64, &size) < 0) return -errno;
    out->size = size;
    return 0;
  }
  if (!S_ISREG(st.st_mode)) return -EINVAL;
  out->block = false;
  out->size = static_cast<uint64_t>(st.st_size);
  return 0;
}

int OpenTarget(const std::string& path, int flags, Target* out) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  out->fd.reset(fd);
  return StatTarget(out);
}

int PreadAll(int fd, char* buf, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    got += static_cast<size_t>(n);
  }
  return 0;
}

int PwriteAll(int fd, const char* buf, size_t len, uint64_t offset) {
  size_t put = 0;
  while (put < len) {
    ssize_t n = pwrite(fd, buf + put, len - put, static_cast<off_t>(offset + put));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -ENOSPC;
    put += static_cast<size_t>(n);
  }
  return 0;
}

bool AllZero(const char* buf, size_t len) {
  if (len == 0) return true;
  if (buf[0] != 0) return false;
  return std::memcmp(buf, buf + 1, len - 1) == 0;
}

}  // namespace ib::blockdev
