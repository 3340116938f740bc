#include "blockdev/zeroer.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ib::blockdev {

static constexpr size_t kZeroBuffer = 1 << 20;

// "Not supported here" as the kernel spells it for ioctls and fallocate modes.
static bool Unsupported(int e) { return e == EOPNOTSUPP || e == ENOTTY || e == EINVAL || e == ENOSYS; }

IoError Zeroer::Fast(uint64_t offset, uint64_t length, bool* done) {
  *done = false;
  if (!fast_ok_) return {};
  if (block_) {
    // BLKZEROOUT wants 512-byte aligned ranges; unaligned edges are written.
    if (offset % 512 != 0 || length % 512 != 0) return {};
    uint64_t range[2] = {offset, length};
    if (ioctl(fd_, BLKZEROOUT, range) == 0) {
      *done = true;
      return {};
    }
    if (!Unsupported(errno)) return {-errno, "ioctl(BLKZEROOUT)"};
  } else {
    int flags = FALLOC_FL_KEEP_SIZE | (mode_ == FileMode::kPunchHole ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
    if (fallocate(fd_, flags, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
      *done = true;
      return {};
    }
    if (!Unsupported(errno)) return {-errno, "fallocate"};
  }
  fast_ok_ = false;
  return {};
}

IoError Zeroer::Write(uint64_t offset, uint64_t length) {
  if (zeros_.data() == nullptr) {
    if (!zeros_.Allocate(kZeroBuffer)) return {-ENOMEM, "posix_memalign"};
    std::memset(zeros_.data(), 0, kZeroBuffer);
  }
  wrote_ = true;
  uint64_t done = 0;
  while (done < length) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kZeroBuffer, length - done));
    int r = PwriteAll(fd_, zeros_.data(), n, offset + done);
    if (r < 0) return {r, "pwrite"};
    done += n;
  }
  return {};
}

IoError Zeroer::Zero(uint64_t offset, uint64_t length) {
  uint64_t done = 0;
  while (done < length) {
    if (abort_->load()) return {-ECANCELED, "abort"};
    uint64_t n = std::min(kStep, length - done);
    bool fast = false;
    IoError e = Fast(offset + done, n, &fast);
    if (!e && !fast) e = Write(offset + done, n);
    if (e) return e;
    done += n;
  }
  return {};
}

}  // namespace ib::blockdev
