#include "image/qcow2_layout.h"

#include <algorithm>
#include <stdexcept>

namespace ib::image {

namespace {

void PutBe16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
void PutBe32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; i++) b[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void PutBe64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; i++) b[off + i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
uint64_t DivUp(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// qemu's feature name table, in qemu's order.
struct Feature {
  uint8_t type, bit;
  const char* name;
};
const Feature kFeatures[] = {
    {0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
    {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},          {2, 1, "raw external data"},
};

constexpr uint32_t kHeaderLength = 112;  // v3 header with the compression type byte, padded to 8
constexpr uint64_t kMaxL1Bytes = 32u << 20;

}  // namespace

OverlayLayout BuildQcow2Overlay(const OverlayParams& p) {
  if (p.cluster_bits < 9 || p.cluster_bits > 21)
    throw std::invalid_argument("clusterSize must be a power of two in 512..2M");
  if (p.extended_l2 && p.cluster_bits < 14)
    throw std::invalid_argument("extendedL2 needs a clusterSize of at least 16K");
  if (p.size % 512 != 0) throw std::invalid_argument("size must be a multiple of 512");
  if (p.backing_file.empty() || p.backing_file.size() > 1023)
    throw std::invalid_argument("backingFile must be 1..1023 bytes long");
  if (p.backing_file.find('\0') != std::string::npos) throw std::invalid_argument("backingFile contains a NUL byte");
  if (p.backing_format.size() > 15) throw std::invalid_argument("backingFormat is longer than 15 bytes");
  const uint64_t c = uint64_t{1} << p.cluster_bits;

  // L1 entries: one per L2 table, each covering c / entry_size clusters.
  const uint64_t l2_span = c * (c / (p.extended_l2 ? 16 : 8));
  const uint64_t l1_entries = DivUp(p.size, l2_span);
  if (l1_entries * 8 > kMaxL1Bytes) throw std::invalid_argument("size is too large for this clusterSize");
  const uint64_t l1_bytes = l1_entries * 8;
  const uint64_t l1_clusters = DivUp(l1_bytes, c);

  // Refcount table and blocks must count themselves: iterate to a fixed point
  // (it settles in a few steps; the bound is a safety net).
  const uint64_t refs_per_block = c / 2;  // refcount_order 4: 16-bit entries
  uint64_t rt_clusters = 1, rb_clusters = 1;
  for (int i = 0; i < 16; i++) {
    const uint64_t total = 1 + rt_clusters + rb_clusters + l1_clusters;
    const uint64_t rb = DivUp(total, refs_per_block), rt = DivUp(rb * 8, c);
    if (rb == rb_clusters && rt == rt_clusters) break;
    rb_clusters = rb;
    rt_clusters = rt < 1 ? 1 : rt;
  }
  const uint64_t total = 1 + rt_clusters + rb_clusters + l1_clusters;
  const uint64_t rt_offset = c, rb_offset = c * (1 + rt_clusters), l1_offset = c * (1 + rt_clusters + rb_clusters);

  // Header cluster.
  std::vector<uint8_t> h(c, 0);
  std::size_t off = kHeaderLength;
  auto ext = [&](uint32_t type, const std::vector<uint8_t>& data) {
    const size_t padded = (data.size() + 7) & ~size_t{7};
    if (off + 8 + padded > c) return false;
    PutBe32(h, off, type);
    PutBe32(h, off + 4, static_cast<uint32_t>(data.size()));
    std::copy(data.begin(), data.end(), h.begin() + static_cast<long>(off + 8));
    off += 8 + padded;
    return true;
  };
  if (!p.backing_format.empty() &&
      !ext(0xe2792aca, std::vector<uint8_t>(p.backing_format.begin(), p.backing_format.end())))
    throw std::invalid_argument("the header does not fit in one cluster");
  // qemu writes the feature name table only with clusters larger than 4 KiB.
  if (c > 4096) {
    std::vector<uint8_t> table(sizeof(kFeatures) / sizeof(kFeatures[0]) * 48, 0);
    size_t i = 0;
    for (const Feature& f : kFeatures) {
      table[i] = f.type;
      table[i + 1] = f.bit;
      for (size_t k = 0; f.name[k] != '\0'; k++) table[i + 2 + k] = static_cast<uint8_t>(f.name[k]);
      i += 48;
    }
    ext(0x6803f857, table);
  }
  const size_t backing_offset = off + 8;  // after the end-of-extensions marker
  if (backing_offset + p.backing_file.size() > c)
    throw std::invalid_argument("backingFile does not fit in the header cluster");
  std::copy(p.backing_file.begin(), p.backing_file.end(), h.begin() + static_cast<long>(backing_offset));

  std::copy_n("QFI\xfb", 4, h.begin());
  PutBe32(h, 4, 3);
  PutBe64(h, 8, backing_offset);
  PutBe32(h, 16, static_cast<uint32_t>(p.backing_file.size()));
  PutBe32(h, 20, p.cluster_bits);
  PutBe64(h, 24, p.size);
  PutBe32(h, 36, static_cast<uint32_t>(l1_entries));
  PutBe64(h, 40, l1_offset);
  PutBe64(h, 48, rt_offset);
  PutBe32(h, 56, static_cast<uint32_t>(rt_clusters));
  PutBe64(h, 72, p.extended_l2 ? 1u << 4 : 0);
  PutBe32(h, 96, 4);
  PutBe32(h, 100, kHeaderLength);

  std::vector<uint8_t> rt(rt_clusters * c, 0);
  for (uint64_t i = 0; i < rb_clusters; i++) PutBe64(rt, i * 8, rb_offset + i * c);
  std::vector<uint8_t> rb(rb_clusters * c, 0);
  for (uint64_t i = 0; i < total; i++) PutBe16(rb, i * 2, 1);

  OverlayLayout layout;
  layout.writes.emplace_back(0, std::move(h));
  layout.writes.emplace_back(rt_offset, std::move(rt));
  layout.writes.emplace_back(rb_offset, std::move(rb));
  // qemu writes the L1 table's bytes (zeros) rather than leaving a hole.
  if (l1_bytes > 0) layout.writes.emplace_back(l1_offset, std::vector<uint8_t>(l1_bytes, 0));
  layout.file_size = l1_bytes > 0 ? l1_offset + l1_bytes : l1_offset;
  return layout;
}

}  // namespace ib::image
