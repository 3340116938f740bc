// Opening a path that must be a regular file or a block device (with its
// size), for the blockdev workers; the fd type, the non-blocking open and the
// I/O helpers are in common/fd.h. Worker thread only: nothing here touches N-API.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/fd.h"

namespace ib::blockdev {

// An opened regular file or block device.
struct Target {
  Fd fd;
  bool block = false;
  uint64_t size = 0;  // st_size, or BLKGETSIZE64 for a block device
  dev_t dev = 0;      // identity, to refuse copying a file onto itself
  ino_t ino = 0;
  dev_t rdev = 0;
  mode_t mode = 0;  // st_mode: what a refused path is (kWrongFileType)
};

// Opens `path` with `flags` (and mode 0644 when creating; callers that
// create fchmod the file, see copy.cc) and fills `out`. Never blocks on a
// FIFO. Returns 0, -errno, or kWrongFileType (out->mode says what it is).
int OpenTarget(const std::string& path, int flags, Target* out);

// Re-reads type and size of an already open descriptor into `out`.
int StatTarget(Target* out);

}  // namespace ib::blockdev
