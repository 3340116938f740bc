// Whole-file fcntl locks that interoperate with oslo.concurrency (nova's
// external locks): fileLockTry (lock.cc).
#pragma once

#include <napi.h>

namespace ib {

void InitFileLock(Napi::Env env, Napi::Object exports);

}  // namespace ib
