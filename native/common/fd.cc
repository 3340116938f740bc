#include "common/fd.h"

#include <fcntl.h>

#include <cstring>

namespace ib {

namespace {

bool Accepted(mode_t mode, FileKinds kinds) {
  return S_ISREG(mode) || (kinds == FileKinds::kRegularOrBlock && S_ISBLK(mode));
}

}  // namespace

int OpenFile(const std::string& path, int flags, mode_t mode, FileKinds kinds, Fd* out, struct stat* st) {
  out->reset(::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC, mode));
  if (out->get() < 0) {
    int err = errno;
    // Opening a FIFO for writing with no reader, or a socket, fails with
    // ENXIO under O_NONBLOCK: say what the path is instead.
    if (err == ENXIO && ::stat(path.c_str(), st) == 0 && !Accepted(st->st_mode, kinds)) return kWrongFileType;
    return -err;
  }
  if (fstat(out->get(), st) < 0) return -errno;
  if (!Accepted(st->st_mode, kinds)) return kWrongFileType;
  int fl = fcntl(out->get(), F_GETFL);
  if (fl < 0 || fcntl(out->get(), F_SETFL, fl & ~O_NONBLOCK) < 0) return -errno;
  return 0;
}

std::string FileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

std::string WrongFileTypeDetail(mode_t mode, FileKinds kinds) {
  return "is " + FileTypeName(mode) +
         (kinds == FileKinds::kRegular ? ", not a regular file" : ", not a regular file or block device");
}

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
