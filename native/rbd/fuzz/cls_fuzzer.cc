// libFuzzer harness for the rbd class-method reply decoders (plain C++, no
// librados). The first byte picks the decoder, the rest is the reply. Any
// input must end in 0 or -EPROTO with results inside what was read: a crash,
// sanitizer report or other result is a bug. Built by CMakeLists.txt next to
// this file; run with scripts/fuzz.sh.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "rbd/cls_decode.h"

static void Check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* reply = data + 1;
  size_t len = size - 1;
  switch (data[0] % 4) {
    case 0: {
      std::string id;
      int r = ib::cls::DecodeGetId(reply, len, &id);
      Check(r == 0 || r == -EPROTO);
      if (r == 0) Check(!id.empty() && id.size() <= 256 && id.size() + 4 <= len);
      break;
    }
    case 1: {
      uint8_t order = 0;
      uint64_t image_size = 0;
      int r = ib::cls::DecodeGetSize(reply, len, &order, &image_size);
      Check(r == 0 || r == -EPROTO);
      if (r == 0) Check(order >= 12 && order <= 25 && len >= 9);
      break;
    }
    case 2: {
      uint64_t seq = 0;
      std::vector<uint64_t> ids;
      int r = ib::cls::DecodeSnapContext(reply, len, &seq, &ids);
      Check(r == 0 || r == -EPROTO);
      if (r == 0) Check(12 + 8 * ids.size() <= len);
      break;
    }
    default: {
      ib::cls::SnapshotInfo info;
      int r = ib::cls::DecodeSnapshotInfo(reply, len, &info);
      Check(r == 0 || r == -EPROTO);
      if (r == 0) Check(info.name.size() <= 4096 && info.name.size() + 6 + 8 + 10 + 4 + 8 <= len);
      break;
    }
  }
  return 0;
}
