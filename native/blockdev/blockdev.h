// Local disks: block devices and regular files used as raw disks.
//   blockdevSize, blockdevZero, blockdevDiscard, blockdevOverwriteRandom,
//   blockdevFallocate (ops.cc, wipe.cc) and copyRaw (copy.cc).
#pragma once

#include <napi.h>

namespace ib {

void InitBlockdev(Napi::Env env, Napi::Object exports);

namespace blockdev {
void InitOps(Napi::Env env, Napi::Object exports);
void InitWipe(Napi::Env env, Napi::Object exports);
void InitCopy(Napi::Env env, Napi::Object exports);
}  // namespace blockdev

}  // namespace ib
