// qcow2 v2/v3 header, header extensions and the checks qemu's qcow2_do_open
// makes before it will open an image (docs/interop/qcow2.txt). Big-endian.
#include <cstdio>

#include "image/formats.h"

namespace ib::image {

namespace {

constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtFeatureTable = 0x6803f857;
constexpr uint32_t kExtCrypto = 0x0537be77;
constexpr uint32_t kExtBitmaps = 0x23852875;
constexpr uint32_t kExtDataFile = 0x44415441;

constexpr uint64_t kIncompatDirty = 1u << 0;
constexpr uint64_t kIncompatCorrupt = 1u << 1;
constexpr uint64_t kIncompatDataFile = 1u << 2;
constexpr uint64_t kIncompatCompression = 1u << 3;
constexpr uint64_t kIncompatExtendedL2 = 1u << 4;
constexpr uint64_t kIncompatKnown = (1u << 5) - 1;
constexpr uint64_t kCompatLazyRefcounts = 1u << 0;
constexpr uint64_t kAutoclearBitmaps = 1u << 0;
constexpr uint64_t kAutoclearDataFileRaw = 1u << 1;

constexpr uint32_t kMaxBackingFileName = 1023;  // qemu's limit
constexpr uint64_t kMaxL1Bytes = 32u << 20;     // QCOW_MAX_L1_SIZE
constexpr uint64_t kMaxRefTableBytes = 8u << 20;
constexpr uint32_t kMaxSnapshots = 65536;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t Align8(uint64_t v) { return Add(v, 7, "header extension length") & ~uint64_t{7}; }

}  // namespace

bool ProbeQcow(const Bytes& head) { return head.Equals(0, "QFI\xfb", 4); }

void ParseQcow2(Reader& r, const Bytes&, ImageInfo& info) {
  Bytes h = r.Exact(0, 72, "qcow2 header");
  const uint32_t version = h.Be32(4);
  if (version < 2) Invalid("qcow (version 1) images are not supported");
  if (version > 3) Invalid("unsupported qcow2 version " + std::to_string(version));
  const uint64_t backing_offset = h.Be64(8);
  const uint32_t backing_size = h.Be32(16);
  const uint32_t cluster_bits = h.Be32(20);
  const uint64_t size = h.Be64(24);
  const uint32_t crypt_method = h.Be32(32);
  const uint32_t l1_size = h.Be32(36);
  const uint64_t l1_offset = h.Be64(40);
  const uint64_t reftable_offset = h.Be64(48);
  const uint32_t reftable_clusters = h.Be32(56);
  const uint32_t nb_snapshots = h.Be32(60);
  const uint64_t snapshots_offset = h.Be64(64);

  if (cluster_bits < 9 || cluster_bits > 21)
    Invalid("qcow2 cluster_bits " + std::to_string(cluster_bits) + " is outside 9..21");
  const uint64_t cluster_size = uint64_t{1} << cluster_bits;

  uint32_t header_length = 72, refcount_order = 4;
  uint64_t incompat = 0, compat = 0, autoclear = 0;
  uint8_t compression = 0;
  if (version == 3) {
    Bytes h3 = r.Exact(0, 104, "qcow2 v3 header");
    incompat = h3.Be64(72);
    compat = h3.Be64(80);
    autoclear = h3.Be64(88);
    refcount_order = h3.Be32(96);
    header_length = h3.Be32(100);
    if (header_length < 104) Invalid("qcow2 v3 header_length " + std::to_string(header_length) + " is below 104");
    if (header_length > cluster_size) Invalid("qcow2 header_length is larger than a cluster");
    if (header_length > 104) compression = r.Exact(104, 1, "qcow2 compression type").U8(0);
  }
  if (refcount_order > 6) Invalid("qcow2 refcount_order " + std::to_string(refcount_order) + " is above 6");
  if (crypt_method > 2) Invalid("unknown qcow2 encryption method " + std::to_string(crypt_method));

  // Compression type and its feature bit must agree (qemu's validate_compression_type).
  if (compression > 1) Invalid("unknown qcow2 compression type " + std::to_string(compression));
  if ((compression != 0) != ((incompat & kIncompatCompression) != 0))
    Invalid("qcow2 compression type and its incompatible feature bit disagree");
  const bool extended_l2 = (incompat & kIncompatExtendedL2) != 0;
  if (extended_l2 && cluster_bits < 14) Invalid("qcow2 extended L2 entries need clusters of at least 16 KiB");

  // The active L1 table must cover the virtual size and lie inside the file.
  const uint32_t l2_bits = cluster_bits - (extended_l2 ? 4 : 3);
  const uint32_t shift = cluster_bits + l2_bits;
  const uint64_t l1_needed = (size >> shift) + ((size & ((uint64_t{1} << shift) - 1)) != 0 ? 1 : 0);
  if (uint64_t{l1_size} * 8 > kMaxL1Bytes) Invalid("qcow2 active L1 table is too large");
  if (l1_size < l1_needed) Invalid("qcow2 L1 table is too small for the virtual size");
  if (l1_size > 0) {
    if (l1_offset % cluster_size != 0) Invalid("qcow2 L1 table offset is not cluster aligned");
    if (Add(l1_offset, uint64_t{l1_size} * 8, "qcow2 L1 table end") > r.Size())
      Invalid("qcow2 L1 table lies past the end of the file");
  }
  if (reftable_offset % cluster_size != 0) Invalid("qcow2 refcount table offset is not cluster aligned");
  if (Mul(reftable_clusters, cluster_size, "qcow2 refcount table size") > kMaxRefTableBytes)
    Invalid("qcow2 refcount table is too large");
  if (reftable_offset >= r.Size()) Invalid("qcow2 refcount table lies past the end of the file");
  if (nb_snapshots > kMaxSnapshots) Invalid("qcow2 has too many snapshots");
  if (nb_snapshots > 0 && snapshots_offset % cluster_size != 0)
    Invalid("qcow2 snapshot table offset is not cluster aligned");

  info.format = "qcow2";
  info.qcow2_version = version;
  info.cluster_size = cluster_size;
  info.virtual_size = size / 512 * 512;  // qemu counts whole sectors
  info.refcount_bits = 1u << refcount_order;
  info.incompatible_features = incompat;
  info.compatible_features = compat;
  info.autoclear_features = autoclear;
  info.nb_snapshots = nb_snapshots;
  info.dirty = (incompat & kIncompatDirty) != 0;
  info.corrupt = (incompat & kIncompatCorrupt) != 0;
  info.extended_l2 = extended_l2;
  info.lazy_refcounts = (compat & kCompatLazyRefcounts) != 0;
  info.compression_type = compression == 1 ? "zstd" : "zlib";
  info.encrypted = crypt_method != 0;
  info.encryption_format = crypt_method == 1 ? "aes" : crypt_method == 2 ? "luks" : "";
  if (incompat & ~kIncompatKnown)
    info.Unsafe("qcow2 unknown incompatible feature bits " + Hex(incompat & ~kIncompatKnown));

  // Backing file name: inside the first cluster, at most 1023 bytes.
  if (backing_offset != 0) {
    if (backing_offset > cluster_size) Invalid("qcow2 backing file offset lies beyond the first cluster");
    if (backing_size > kMaxBackingFileName || backing_size > cluster_size - backing_offset)
      Invalid("qcow2 backing file name is too long");
    info.backing_file = r.Exact(backing_offset, backing_size, "qcow2 backing file name").CString(0, backing_size);
  }

  // Header extensions run from the header's end to the backing file name (or
  // the end of the first cluster). Like qemu, bytes past the end of the file
  // read as zeros, which is the end marker.
  const uint64_t ext_end = backing_offset != 0 ? backing_offset : cluster_size;
  Bytes ext = r.UpTo(0, static_cast<size_t>(ext_end));
  bool has_crypto_ext = false;
  uint64_t off = header_length;
  while (off < ext_end) {  // each pass advances at least 8 bytes
    if (!ext.Has(off, 8)) break;
    const uint32_t type = ext.Be32(off);
    const uint32_t len = ext.Be32(off + 4);
    off += 8;
    if (off > ext_end || len > ext_end - off) Invalid("qcow2 header extension " + Hex(type) + " is too large");
    if (type == kExtEnd) break;
    if (!ext.Has(off, len)) Invalid("qcow2 header extension " + Hex(type) + " is truncated");
    switch (type) {
      case kExtBackingFormat:
        if (len >= 16) Invalid("qcow2 backing format name is too long");
        info.backing_format = ext.CString(off, len);
        break;
      case kExtDataFile:
        info.data_file = ext.CString(off, len);
        break;
      case kExtCrypto: {
        if (len != 16) Invalid("qcow2 crypto header extension has the wrong size");
        if (crypt_method != 2) Invalid("qcow2 crypto header extension without LUKS encryption");
        const uint64_t crypto_offset = ext.Be64(off), crypto_length = ext.Be64(off + 8);
        if (Add(crypto_offset, crypto_length, "qcow2 LUKS header end") > r.Size())
          Invalid("qcow2 LUKS header lies past the end of the file");
        has_crypto_ext = true;
        break;
      }
      case kExtBitmaps:
        if (len != 24) Invalid("qcow2 bitmaps extension has the wrong size");
        if (autoclear & kAutoclearBitmaps) info.nb_bitmaps = ext.Be32(off);
        break;
      case kExtFeatureTable:  // names for feature bits: informational only
      default:
        break;
    }
    off = Align8(off + len);
  }
  if (crypt_method == 2 && !has_crypto_ext) Invalid("qcow2 LUKS encryption without a crypto header extension");

  if (incompat & kIncompatDataFile) {
    if (info.data_file.empty()) Invalid("qcow2 has the external data file bit but names no data file");
    info.data_file_raw = (autoclear & kAutoclearDataFileRaw) != 0;
  } else {
    if (autoclear & kAutoclearDataFileRaw) Invalid("qcow2 data-file-raw bit set without an external data file");
    info.data_file.clear();  // qemu ignores the name without the feature bit
  }

  if (!info.backing_file.empty()) info.Unsafe("backing file: '" + info.backing_file + "'");
  if (!info.data_file.empty()) info.Unsafe("external data file: '" + info.data_file + "'");
}

}  // namespace ib::image
