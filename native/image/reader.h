// Bounded, checked access to untrusted image bytes. Plain C++ (no N-API) so
// the parser can be fuzzed: every read is capped, every offset computation
// goes through the checked helpers, and a malformed image becomes an
// InvalidImage exception carrying a reason, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ib::image {

// The bytes do not form a valid image of the format that claims them.
struct InvalidImage {
  std::string reason;
};

// The operating system failed us (open, fstat, pread): errno kept for JS.
struct IoFailure {
  int err;  // positive errno
  const char* syscall;
  std::string path;
  std::string detail = {};  // e.g. "is a FIFO, not a regular file or block device"
};

// No single read is larger than this: metadata we parse is small, and an
// attacker-chosen length must never turn into a huge allocation.
constexpr size_t kMaxRead = 4u << 20;

[[noreturn]] inline void Invalid(std::string reason) { throw InvalidImage{std::move(reason)}; }

// Checked arithmetic on attacker-controlled numbers.
inline uint64_t Add(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) Invalid(std::string(what) + " overflows");
  return r;
}
inline uint64_t Mul(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) Invalid(std::string(what) + " overflows");
  return r;
}
inline bool IsPow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// A read-only window over bytes already read; out-of-range access is a parser
// bug or a short file, reported as InvalidImage rather than undefined behaviour.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::vector<uint8_t> data) : data_(std::move(data)) {}
  size_t size() const { return data_.size(); }
  const uint8_t* data() const { return data_.data(); }
  bool Has(size_t off, size_t len) const { return off <= data_.size() && len <= data_.size() - off; }
  bool Equals(size_t off, const void* s, size_t len) const;
  uint8_t U8(size_t off) const;
  uint16_t Be16(size_t off) const;
  uint32_t Be32(size_t off) const;
  uint64_t Be64(size_t off) const;
  uint16_t Le16(size_t off) const;
  uint32_t Le32(size_t off) const;
  uint64_t Le64(size_t off) const;
  // Up to the first NUL within [off, off+len).
  std::string CString(size_t off, size_t len) const;
  std::string Str(size_t off, size_t len) const;

 private:
  void Need(size_t off, size_t len) const;
  std::vector<uint8_t> data_;
};

// Positional reads from a file or a buffer.
class Reader {
 public:
  virtual ~Reader() = default;
  // Total length in bytes (st_size for files, the device size for devices).
  virtual uint64_t Size() const = 0;
  // Reads up to len bytes at off; fewer only at end of file.
  virtual size_t ReadAt(uint64_t off, uint8_t* buf, size_t len) = 0;

  // Exactly len bytes or InvalidImage naming `what` ("truncated ...").
  Bytes Exact(uint64_t off, size_t len, const char* what);
  // Up to len bytes (less at end of file), for probing.
  Bytes UpTo(uint64_t off, size_t len);
};

// pread(2) on a file descriptor it does not own. Thread: any.
class FdReader : public Reader {
 public:
  FdReader(int fd, std::string path);
  uint64_t Size() const override { return size_; }
  size_t ReadAt(uint64_t off, uint8_t* buf, size_t len) override;

 private:
  int fd_;
  std::string path_;
  uint64_t size_ = 0;
};

// An in-memory image, for the fuzzer and tests.
class MemReader : public Reader {
 public:
  MemReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t Size() const override { return size_; }
  size_t ReadAt(uint64_t off, uint8_t* buf, size_t len) override;

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace ib::image
