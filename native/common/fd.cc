#include "common/fd.h"

#include <cstring>

namespace ib {

bool Buffer::Allocate(size_t size) {
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, size == 0 ? 4096 : size) != 0) return false;
  data_.reset(static_cast<char*>(mem));
  size_ = size;
  return true;
}

int PreadAll(int fd, char* buf, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -ENODATA;
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

}  // namespace ib
