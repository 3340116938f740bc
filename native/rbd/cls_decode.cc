#include "rbd/cls_decode.h"

#include <cerrno>

namespace ib {
namespace cls {

namespace {

// A forward-only reader over [data, data + size): every read checks what is
// left first and fails (returns false, consuming nothing) when it is short.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), left_(size) {}

  bool U8(uint8_t* out) {
    if (left_ < 1) return false;
    *out = data_[0];
    Skip(1);
    return true;
  }
  bool Le32(uint32_t* out) {
    if (left_ < 4) return false;
    *out = 0;
    for (int i = 3; i >= 0; i--) *out = (*out << 8) | data_[i];
    Skip(4);
    return true;
  }
  bool Le64(uint64_t* out) {
    if (left_ < 8) return false;
    *out = 0;
    for (int i = 7; i >= 0; i--) *out = (*out << 8) | data_[i];
    Skip(8);
    return true;
  }
  // le32 length + that many bytes, the length checked against what is left and `max`.
  bool String(std::string* out, size_t max) {
    uint32_t len = 0;
    if (left_ < 4) return false;
    Cursor probe = *this;
    probe.Le32(&len);
    if (len > max || len > probe.left_) return false;
    out->assign(reinterpret_cast<const char*>(probe.data_), len);
    *this = probe;
    Skip(len);
    return true;
  }
  bool Skip(size_t n) {
    if (n > left_) return false;
    data_ += n;
    left_ -= n;
    return true;
  }
  // Ceph's ENCODE_START header: u8 version, u8 compat, le32 length. Refuses a
  // compat newer than `understood` and a length past the end; on success the
  // returned cursor covers exactly the encoded struct.
  bool Struct(uint8_t understood, Cursor* body) {
    uint8_t version = 0, compat = 0;
    uint32_t len = 0;
    Cursor probe = *this;
    if (!probe.U8(&version) || !probe.U8(&compat) || !probe.Le32(&len)) return false;
    if (compat > understood || compat > version || len > probe.left_) return false;
    *body = Cursor(probe.data_, len);
    *this = probe;
    Skip(len);
    return true;
  }
  size_t left() const { return left_; }

 private:
  const uint8_t* data_;
  size_t left_;
};

constexpr int kRefused = -EPROTO;

}  // namespace

int DecodeGetId(const uint8_t* data, size_t size, std::string* id) {
  Cursor c(data, size);
  if (!c.String(id, 256) || id->empty()) return kRefused;
  return 0;
}

int DecodeGetSize(const uint8_t* data, size_t size, uint8_t* order, uint64_t* image_size) {
  Cursor c(data, size);
  if (!c.U8(order) || !c.Le64(image_size)) return kRefused;
  if (*order < 12 || *order > 25) return kRefused;
  return 0;
}

int DecodeSnapContext(const uint8_t* data, size_t size, uint64_t* seq, std::vector<uint64_t>* ids) {
  Cursor c(data, size);
  uint32_t count = 0;
  if (!c.Le64(seq) || !c.Le32(&count)) return kRefused;
  // Checked before reserving: a lying count cannot make us allocate.
  if (count > c.left() / 8) return kRefused;
  ids->clear();
  ids->reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    uint64_t id = 0;
    c.Le64(&id);
    ids->push_back(id);
  }
  return 0;
}

int DecodeSnapshotInfo(const uint8_t* data, size_t size, SnapshotInfo* info) {
  Cursor c(data, size);
  Cursor body(nullptr, 0), ns(nullptr, 0);
  if (!c.Struct(1, &body)) return kRefused;
  if (!body.Le64(&info->id)) return kRefused;
  if (!body.Struct(1, &ns) || !ns.Le32(&info->namespace_type)) return kRefused;
  if (!body.String(&info->name, 4096) || !body.Le64(&info->image_size)) return kRefused;
  return 0;
}

}  // namespace cls
}  // namespace ib
