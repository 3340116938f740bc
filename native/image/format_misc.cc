// The small formats: qed (little-endian header with a backing file), vdi
// (VirtualBox), luks (version 1, the one qemu opens), and the content
// signatures qemu reports as raw (iso, gpt, mbr).
#include <vector>

#include "image/formats.h"

namespace ib::image {

// ---- qed (qemu's block/qed.c) ----

bool ProbeQed(const Bytes& head) { return head.Equals(0, "QED\0", 4); }

void ParseQed(Reader& r, const Bytes&, ImageInfo& info) {
  constexpr uint64_t kBacking = 1, kNeedCheck = 2, kNoProbe = 4, kKnown = 7;
  Bytes h = r.Exact(0, 64, "qed header");
  const uint32_t cluster_size = h.Le32(4), table_size = h.Le32(8), header_size = h.Le32(12);
  const uint64_t features = h.Le64(16), l1_offset = h.Le64(40), image_size = h.Le64(48);
  const uint32_t backing_offset = h.Le32(56), backing_size = h.Le32(60);
  if (!IsPow2(cluster_size) || cluster_size < 4096 || cluster_size > (64u << 20))
    Invalid("qed cluster size " + std::to_string(cluster_size) + " is not a power of two in 4 KiB..64 MiB");
  if (!IsPow2(table_size) || table_size > 16) Invalid("qed table size is not a power of two in 1..16");
  if (header_size == 0) Invalid("qed header size is zero");
  const uint64_t header_bytes = Mul(header_size, cluster_size, "qed header size");
  if (image_size % 512 != 0) Invalid("qed image size is not a multiple of 512");
  // Largest image two table levels can map; saturate rather than overflow.
  const uint64_t entries = uint64_t{table_size} * cluster_size / 8;
  uint64_t max_size = 0;
  if (!__builtin_mul_overflow(entries, entries, &max_size) &&
      !__builtin_mul_overflow(max_size, uint64_t{cluster_size}, &max_size) && image_size > max_size)
    Invalid("qed image size exceeds what its tables can map");
  if (l1_offset % cluster_size != 0 || l1_offset < header_bytes || l1_offset >= r.Size())
    Invalid("qed L1 table offset is invalid or past the end of the file");

  info.format = "qed";
  info.cluster_size = cluster_size;
  info.virtual_size = image_size;
  info.dirty = (features & kNeedCheck) != 0;
  if (features & ~kKnown) info.Unsafe("qed unknown feature bits");
  if (features & kBacking) {
    if (uint64_t{backing_offset} + backing_size > header_bytes)
      Invalid("qed backing file name lies outside the header");
    if (backing_size >= 4096) Invalid("qed backing file name is too long");
    info.backing_file = r.Exact(backing_offset, backing_size, "qed backing file name").CString(0, backing_size);
    if (features & kNoProbe) info.backing_format = "raw";
    info.Unsafe("backing file: '" + info.backing_file + "'");
  }
  // nova's inspector refuses qed outright: nothing needs it and qemu deprecated it.
  info.Unsafe("qed format is not accepted (deprecated, unsupported by nova)");
}

// ---- vdi (qemu's block/vdi.c) ----

bool ProbeVdi(const Bytes& head) { return head.Has(0x40, 4) && head.Le32(0x40) == 0xbeda107f; }

void ParseVdi(Reader& r, const Bytes&, ImageInfo& info) {
  Bytes h = r.Exact(0, 0x1c8, "vdi header");
  const uint32_t version = h.Le32(0x44);
  if (version != 0x00010001)
    Invalid("unsupported vdi version " + std::to_string(version >> 16) + "." + std::to_string(version & 0xffff));
  const uint32_t type = h.Le32(0x4c);
  if (type != 1 && type != 2) Invalid("unsupported vdi image type " + std::to_string(type));
  if (h.Le32(0x154) % 512 != 0 || h.Le32(0x158) % 512 != 0)
    Invalid("vdi block map or data offset is not sector aligned");
  if (h.Le32(0x168) != 512) Invalid("vdi sector size is not 512");
  const uint64_t disk_size = h.Le64(0x170);
  const uint32_t block_size = h.Le32(0x178);
  if (block_size != (1u << 20)) Invalid("vdi block size is not 1 MiB");
  if (h.Le32(0x17c) != 0) Invalid("vdi block extra data is not supported");
  const uint32_t blocks = h.Le32(0x180);
  if (blocks > 0x3fffffff) Invalid("vdi has too many blocks");
  if (disk_size > uint64_t{blocks} * block_size) Invalid("vdi disk size exceeds its block count");
  static const uint8_t kNull[16] = {};
  if (!h.Equals(0x1a8, kNull, 16)) Invalid("vdi link UUID is not null (unsupported)");
  if (!h.Equals(0x1b8, kNull, 16)) Invalid("vdi parent UUID is not null (differencing images are unsupported)");

  info.format = "vdi";
  info.subformat = type == 1 ? "dynamic" : "static";
  info.cluster_size = block_size;
  info.virtual_size = disk_size / 512 * 512;
}

// ---- luks (version 1; qemu's crypto/block-luks.c) ----

bool ProbeLuks(const Bytes& head) { return head.Equals(0, "LUKS\xba\xbe", 6) && head.Be16(6) == 1; }
bool ProbeLuks2(const Bytes& head) { return head.Equals(0, "LUKS\xba\xbe", 6) && head.Be16(6) == 2; }

void ParseLuks(Reader& r, const Bytes&, ImageInfo& info) {
  constexpr uint32_t kSlotEnabled = 0x00AC71F3, kSlotDisabled = 0x0000DEAD, kStripes = 4000;
  Bytes h = r.Exact(0, 592, "luks header");
  const uint64_t payload = Mul(h.Be32(104), 512, "luks payload offset");
  const uint32_t key_bytes = h.Be32(108);
  if (key_bytes == 0 || key_bytes > 512) Invalid("luks key size " + std::to_string(key_bytes) + " is invalid");
  if (payload > r.Size()) Invalid("luks payload offset lies past the end of the file");
  const uint64_t material = (uint64_t{key_bytes} * kStripes + 511) / 512 * 512;
  for (int i = 0; i < 8; i++) {
    const size_t s = 208 + 48 * i;
    const uint32_t active = h.Be32(s);
    if (active != kSlotEnabled && active != kSlotDisabled)
      Invalid("luks key slot " + std::to_string(i) + " has a bad state");
    if (h.Be32(s + 44) != kStripes) Invalid("luks key slot " + std::to_string(i) + " has an unexpected stripe count");
    const uint64_t start = uint64_t{h.Be32(s + 40)} * 512;
    if (start + material > payload) Invalid("luks key slot " + std::to_string(i) + " overlaps the payload");
  }
  info.format = "luks";
  info.encrypted = true;
  info.encryption_format = "luks";
  info.cipher_name = h.CString(8, 32);
  info.cipher_mode = h.CString(40, 32);
  info.hash_spec = h.CString(72, 32);
  info.payload_offset = payload;
  info.virtual_size = r.Size() - payload;
}

// ---- content signatures ----

bool ProbeIso(const Bytes& head) {
  return head.Equals(0x8001, "CD001", 5) || head.Equals(0x8001, "NSR02", 5) || head.Equals(0x8001, "NSR03", 5);
}
bool ProbeGpt(const Bytes& head) { return head.Equals(512, "EFI PART", 8); }
bool ProbeMbr(const Bytes& head) { return head.Has(510, 2) && head.U8(510) == 0x55 && head.U8(511) == 0xAA; }

bool IsFatBootSector(const Bytes& head) {
  // Two FATs and the "fixed disk" media descriptor: a FAT file system's
  // boot sector, not a partition table (oslo's GPTInspector._check_for_fat).
  return head.Has(0, 512) && head.U8(0x10) == 2 && head.U8(0x15) == 0xF8;
}

void CheckMbrPartitions(const Bytes& head, ImageInfo& info) {
  constexpr size_t kTable = 446;
  constexpr uint8_t kGptProtective = 0xEE;
  std::vector<int> used;
  bool protective = false;
  for (int i = 0; i < 4; i++) {
    const size_t e = kTable + 16 * static_cast<size_t>(i);
    const uint8_t boot = head.U8(e), type = head.U8(e + 4);
    if (boot != 0x00 && boot != 0x80) {
      info.Unsafe("MBR partition " + std::to_string(i) + " has an invalid boot flag");
      return;
    }
    if (type != 0) used.push_back(i);
    if (type == kGptProtective) {
      protective = true;
      // The protective entry starts at CHS 0/2/0, LBA 1 (UEFI spec 5.2.3).
      if (head.U8(e + 1) != 0 || head.U8(e + 2) != 2 || head.U8(e + 3) != 0) {
        info.Unsafe("GPT protective MBR has an invalid start CHS");
        return;
      }
      if (head.Le32(e + 8) != 1) {
        info.Unsafe("GPT protective MBR has an invalid start LBA");
        return;
      }
    }
  }
  if (protective && used != std::vector<int>{0}) {
    info.Unsafe("GPT protective MBR defines other partitions");
  } else if (used.empty()) {
    info.Unsafe("MBR defines no partitions");
  }
}

}  // namespace ib::image
