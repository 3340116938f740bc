// Decoders of the replies of the rbd object class methods the fast paths call
// (get_id, get_size, get_snapcontext, snapshot_get): bytes from the OSD,
// treated as untrusted input. Every read is bounds-checked, lengths are
// checked against what is left before anything is allocated, and the
// version bytes of versioned encodings (Ceph's ENCODE_START) are checked:
// an encoding whose compat version is newer than the one understood here is
// refused rather than guessed at. Plain C++ (no N-API, no librados), so the
// libFuzzer harness in native/rbd/fuzz builds it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ib {
namespace cls {

// Every decoder returns 0, or -EPROTO for a reply it refuses.

// rbd.get_id: le32 length + the image id. Ids are short (librbd makes 12-16
// hex digits); anything empty or over 256 bytes is refused.
int DecodeGetId(const uint8_t* data, size_t size, std::string* id);

// rbd.get_size: u8 order + le64 size. The order must be one librbd allows (12-25).
int DecodeGetSize(const uint8_t* data, size_t size, uint8_t* order, uint64_t* image_size);

// rbd.get_snapcontext: le64 seq, le32 count, count x le64 snapshot ids.
int DecodeSnapContext(const uint8_t* data, size_t size, uint64_t* seq, std::vector<uint64_t>* ids);

// rbd.snapshot_get: cls::rbd::SnapshotInfo, ENCODE_START(v, compat 1):
// le64 id, the namespace (its own ENCODE_START(compat 1), le32 type, body),
// le32 length + the name, le64 image size, then fields not read here.
struct SnapshotInfo {
  uint64_t id = 0;
  uint32_t namespace_type = 0;  // 0: user snapshot
  std::string name;
  uint64_t image_size = 0;
};
int DecodeSnapshotInfo(const uint8_t* data, size_t size, SnapshotInfo* info);

}  // namespace cls
}  // namespace ib
