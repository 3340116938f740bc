// Formats qemu opens but nova does not accept: parallels, bochs, cloop and
// dmg. They are recognised (so they never pass for raw) and always unsafe;
// the virtual size is read the way qemu reads it, so `format` and
// `virtualSize` still agree with `qemu-img info`.
#include "image/formats.h"

namespace ib::image {

namespace {

void Refuse(ImageInfo& info, const char* format) {
  info.Unsafe(std::string(format) + " format is not accepted (qemu reads it, nova does not)");
}

}  // namespace

// ---- parallels (qemu's block/parallels.c) ----
// magic[16] version(le32 @16) heads cylinders tracks(@28: sectors per
// cluster) bat_entries nb_sectors(le64 @36) inuse data_off flags ext_off

bool ProbeParallels(const Bytes& head) {
  if (!head.Has(0, 64) || head.Le32(16) != 2) return false;
  return head.Equals(0, "WithoutFreeSpace", 16) || head.Equals(0, "WithouFreSpacExt", 16);
}

void ParseParallels(Reader& r, const Bytes&, ImageInfo& info) {
  Bytes h = r.Exact(0, 64, "parallels header");
  const uint32_t tracks = h.Le32(28);
  if (tracks == 0) Invalid("parallels cluster size is zero");
  if (tracks > 0x7fffffffu / 512) Invalid("parallels cluster size is too large");
  uint64_t sectors = h.Le64(36);
  // The old magic keeps only 32 bits of the sector count (qemu masks it too).
  if (h.Equals(0, "WithoutFreeSpace", 16)) sectors &= 0xffffffffu;
  info.format = "parallels";
  // No cluster_size: qemu-img info reports none for these formats.
  info.virtual_size = Mul(sectors, 512, "parallels size");
  Refuse(info, "parallels");
}

// ---- bochs (qemu's block/bochs.c) ----
// magic[32] type[16] subtype[16] version(le32 @64) header(@68) catalog(@72)
// bitmap(@76) extent(@80) then v2: reserved(@84) disk(le64 @88); v1: disk(@84)

constexpr uint32_t kBochsV1 = 0x00010000, kBochsV2 = 0x00020000;

bool ProbeBochs(const Bytes& head) {
  if (!head.Has(0, 96)) return false;
  const uint32_t version = head.Le32(64);
  // qemu compares NUL-terminated strings: the field must end right after the text.
  return head.Equals(0, "Bochs Virtual HD Image\0", 23) && head.Equals(32, "Redolog\0", 8) &&
         head.Equals(48, "Growing\0", 8) && (version == kBochsV1 || version == kBochsV2);
}

void ParseBochs(Reader& r, const Bytes&, ImageInfo& info) {
  Bytes h = r.Exact(0, 512, "bochs header");
  const uint64_t disk = h.Le32(64) == kBochsV1 ? h.Le64(84) : h.Le64(88);
  const uint32_t extent = h.Le32(80);
  if (extent < 512 || extent % 512 != 0) Invalid("bochs extent size is invalid");
  info.format = "bochs";
  info.virtual_size = disk / 512 * 512;
  Refuse(info, "bochs");
}

// ---- cloop (qemu's block/cloop.c) ----
// A shell-script preamble, then block_size(be32 @128) n_blocks(be32 @132).

constexpr char kCloopMagic[] = "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";

bool ProbeCloop(const Bytes& head) { return head.Equals(0, kCloopMagic, sizeof(kCloopMagic) - 1); }

void ParseCloop(Reader& r, const Bytes&, ImageInfo& info) {
  Bytes h = r.Exact(0, 136, "cloop header");
  const uint32_t block_size = h.Be32(128), blocks = h.Be32(132);
  if (block_size == 0 || block_size % 512 != 0) Invalid("cloop block size is not a multiple of 512");
  if (block_size > (64u << 20)) Invalid("cloop block size is too large");
  if (blocks == 0xffffffffu) Invalid("cloop has too many blocks");
  info.format = "cloop";
  info.virtual_size = Mul(blocks, block_size, "cloop size");
  Refuse(info, "cloop");
}

// ---- dmg (qemu's block/dmg.c) ----
// qemu probes dmg by the file name (".dmg") only; the bytes say it too: a
// 512-byte "koly" trailer at the end of the file. Recognised by the trailer,
// whatever the name, so a renamed dmg is never taken for raw.

bool HasDmgTrailer(Reader& r) {
  if (r.Size() < 512) return false;
  Bytes t = r.UpTo(r.Size() - 512, 512);
  // magic, version 4, header size 512
  return t.Equals(0, "koly", 4) && t.Be32(4) == 4 && t.Be32(8) == 512;
}

void ParseDmg(Reader& r, ImageInfo& info) {
  Bytes t = r.Exact(r.Size() - 512, 512, "dmg trailer");
  // The sector count (be64 @0x1ec) is what the resource fork's block tables
  // map; qemu sums the tables' sector counts, which a valid image agrees with.
  const uint64_t sectors = t.Be64(0x1ec);
  info.format = "dmg";
  info.virtual_size = Mul(sectors, 512, "dmg size");
  Refuse(info, "dmg");
}

}  // namespace ib::image
