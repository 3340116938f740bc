// Makes a byte range of a regular file or block device read as zeros, with the
// cheapest call that works: BLKZEROOUT on a block device, fallocate on a file
// (ZERO_RANGE keeps the blocks allocated, PUNCH_HOLE frees them), and plain
// writes of a zero buffer when the kernel or filesystem refuses those.
// Worker thread only.
#pragma once

#include <cstdint>

#include "blockdev/target.h"
#include "common/abort_handle.h"

namespace ib::blockdev {

struct IoError {
  int err = 0;  // negative errno; -ECANCELED when aborted
  const char* syscall = "";
  explicit operator bool() const { return err != 0; }
};

class Zeroer {
 public:
  enum class FileMode { kZeroRange, kPunchHole };

  Zeroer(const Target& target, FileMode mode, AbortFlag abort)
      : fd_(target.fd.get()), block_(target.block), mode_(mode), abort_(std::move(abort)) {}

  // Zeros [offset, offset + length). Checks the abort flag between steps of at
  // most kStep bytes so a slow fallback still stops promptly.
  IoError Zero(uint64_t offset, uint64_t length);

  // True once a fallback to plain writes happened (the caller then syncs).
  bool wrote() const { return wrote_; }

  static constexpr uint64_t kStep = 64ULL << 20;

 private:
  IoError Fast(uint64_t offset, uint64_t length, bool* done);
  IoError Write(uint64_t offset, uint64_t length);

  int fd_;
  bool block_;
  FileMode mode_;
  AbortFlag abort_;
  bool fast_ok_ = true;  // cleared when the ioctl/fallocate is unsupported
  bool wrote_ = false;
  Buffer zeros_;
};

}  // namespace ib::blockdev
