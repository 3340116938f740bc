#include "blockdev/target.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>

namespace ib::blockdev {

namespace {

int Fill(const struct stat& st, Target* out) {
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  out->rdev = st.st_rdev;
  out->mode = st.st_mode;
  if (S_ISBLK(st.st_mode)) {
    out->block = true;
    uint64_t size = 0;
    if (ioctl(out->fd.get(), BLKGETSIZE64, &size) < 0) return -errno;
    out->size = size;
    return 0;
  }
  if (!S_ISREG(st.st_mode)) return kWrongFileType;
  out->block = false;
  out->size = static_cast<uint64_t>(st.st_size);
  return 0;
}

}  // namespace

int StatTarget(Target* out) {
  struct stat st;
  if (fstat(out->fd.get(), &st) < 0) return -errno;
  return Fill(st, out);
}

int OpenTarget(const std::string& path, int flags, Target* out) {
  struct stat st;
  int r = OpenFile(path, flags, 0644, FileKinds::kRegularOrBlock, &out->fd, &st);
  if (r == kWrongFileType) out->mode = st.st_mode;
  if (r != 0) return r;
  return Fill(st, out);
}

}  // namespace ib::blockdev
