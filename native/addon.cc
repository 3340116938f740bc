// Registration only: each concern adds its functions to the exports.
// Exception mode: NAPI_CPP_EXCEPTIONS (binding.gyp). Argument errors throw
// synchronously; everything else settles a promise.
#include <napi.h>

#include "blockdev/blockdev.h"
#include "common/abort_handle.h"
#include "fsutil/lock.h"
#include "image/image.h"
#include "lvm/lvm.h"
#include "rbd/cluster.h"
#include "rbd/image_worker.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ib::InitCluster(env, exports);
  ib::InitImageOps(env, exports);
  ib::InitSnapshotOps(env, exports);
  ib::InitTransfer(env, exports);
  ib::InitWriter(env, exports);
  ib::InitAbortHandle(env, exports);
  ib::InitBlockdev(env, exports);
  ib::InitImage(env, exports);
  ib::InitLvm(env, exports);
  ib::InitFileLock(env, exports);
  return exports;
}

NODE_API_MODULE(imagebackend, Init)
