// Opening a path that must be a regular file or a block device (with its
// size), for the blockdev workers; the fd/buffer/I-O helpers are in
// common/fd.h. Worker thread only: nothing here touches N-API.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/fd.h"

namespace ib::blockdev {

using ib::AllZero;
using ib::Buffer;
using ib::Fd;
using ib::PreadAll;
using ib::PwriteAll;

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

}  // namespace ib::blockdev
