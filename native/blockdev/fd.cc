#include "blockdev/fd.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace ib::blockdev {

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

}  // namespace ib::blockdev
