#include "image/reader.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace ib::image {

void Bytes::Need(size_t off, size_t len) const {
  if (!Has(off, len)) Invalid("header field at byte " + std::to_string(off) + " is past the end of the data read");
}
bool Bytes::Equals(size_t off, const void* s, size_t len) const {
  return Has(off, len) && std::memcmp(data_.data() + off, s, len) == 0;
}
uint8_t Bytes::U8(size_t off) const {
  Need(off, 1);
  return data_[off];
}
uint16_t Bytes::Be16(size_t off) const {
  Need(off, 2);
  return static_cast<uint16_t>(data_[off] << 8 | data_[off + 1]);
}
uint32_t Bytes::Be32(size_t off) const {
  Need(off, 4);
  uint32_t v = 0;
  for (size_t i = 0; i < 4; i++) v = v << 8 | data_[off + i];
  return v;
}
uint64_t Bytes::Be64(size_t off) const {
  Need(off, 8);
  uint64_t v = 0;
  for (size_t i = 0; i < 8; i++) v = v << 8 | data_[off + i];
  return v;
}
uint16_t Bytes::Le16(size_t off) const {
  Need(off, 2);
  return static_cast<uint16_t>(data_[off] | data_[off + 1] << 8);
}
uint32_t Bytes::Le32(size_t off) const {
  Need(off, 4);
  uint32_t v = 0;
  for (size_t i = 4; i-- > 0;) v = v << 8 | data_[off + i];
  return v;
}
uint64_t Bytes::Le64(size_t off) const {
  Need(off, 8);
  uint64_t v = 0;
  for (size_t i = 8; i-- > 0;) v = v << 8 | data_[off + i];
  return v;
}
std::string Bytes::CString(size_t off, size_t len) const {
  Need(off, len);
  if (len == 0) return {};  // data() may be null: no pointer arithmetic on it
  const char* p = reinterpret_cast<const char*>(data_.data() + off);
  return std::string(p, strnlen(p, len));
}
std::string Bytes::Str(size_t off, size_t len) const {
  Need(off, len);
  if (len == 0) return {};
  return std::string(reinterpret_cast<const char*>(data_.data() + off), len);
}

Bytes Reader::Exact(uint64_t off, size_t len, const char* what) {
  if (len > kMaxRead) Invalid(std::string(what) + " is too large (" + std::to_string(len) + " bytes)");
  if (off > Size() || len > Size() - off) Invalid(std::string(what) + " is past the end of the file (truncated image)");
  std::vector<uint8_t> buf(len);
  if (ReadAt(off, buf.data(), len) != len) Invalid(std::string(what) + " is truncated");
  return Bytes(std::move(buf));
}

Bytes Reader::UpTo(uint64_t off, size_t len) {
  if (len > kMaxRead) len = kMaxRead;
  if (off >= Size()) return Bytes();
  if (len > Size() - off) len = static_cast<size_t>(Size() - off);
  std::vector<uint8_t> buf(len);
  buf.resize(ReadAt(off, buf.data(), len));
  return Bytes(std::move(buf));
}

FdReader::FdReader(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
  // lseek(SEEK_END) also sizes block devices, where st_size is 0.
  off_t end = lseek(fd_, 0, SEEK_END);
  if (end < 0) throw IoFailure{errno, "lseek", path_};
  size_ = static_cast<uint64_t>(end);
}

size_t FdReader::ReadAt(uint64_t off, uint8_t* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd_, buf + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoFailure{errno, "pread", path_};
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

size_t MemReader::ReadAt(uint64_t off, uint8_t* buf, size_t len) {
  if (off >= size_) return 0;
  size_t n = len < size_ - off ? len : static_cast<size_t>(size_ - off);
  // A zero-length read may come with a null buffer (an empty vector's data()),
  // which memcpy must not be given even for n == 0.
  if (n > 0) std::memcpy(buf, data_ + off, n);
  return n;
}

}  // namespace ib::image
