// Microsoft's formats: VHD (qemu: vpc) and VHDX. qemu probes VHD only by the
// footer copy at offset 0, which dynamic VHDs have and fixed VHDs do not: a
// fixed VHD is reported as raw (its footer is then just a content hint).
#include <cstring>

#include "image/formats.h"

namespace ib::image {

namespace {

// The size qemu reports: CHS geometry unless the creator application is one
// that sizes by current_size, or the geometry is the maximum (block/vpc.c).
uint64_t VpcSectors(const Bytes& f) {
  const std::string creator = f.Str(28, 4);
  const uint64_t chs = uint64_t{f.Be16(56)} * f.U8(58) * f.U8(59);
  static const char* const kBySize[] = {"win ", "qem2", "d2v ", "CTXS"};
  bool use_chs = std::memcmp(creator.data(), "tap\0", 4) != 0;
  for (const char* c : kBySize) use_chs = use_chs && creator != c;
  if (!use_chs || chs == uint64_t{65535} * 16 * 255) return f.Be64(48) / 512;
  return chs;
}

// GUIDs as they are stored: the first three fields little-endian.
struct Guid {
  uint8_t b[16];
};
constexpr Guid kRegionMetadata{
    {0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E}};
constexpr Guid kRegionBat{
    {0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08}};
constexpr Guid kFileParameters{
    {0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B}};
constexpr Guid kVirtualDiskSize{
    {0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8}};
constexpr Guid kPage83{
    {0xAB, 0x12, 0xCA, 0xBE, 0xE6, 0xB2, 0x23, 0x45, 0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46}};
constexpr Guid kLogicalSectorSize{
    {0x1D, 0xBF, 0x41, 0x81, 0x6F, 0xA9, 0x09, 0x47, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F}};
constexpr Guid kPhysicalSectorSize{
    {0xC7, 0x48, 0xA3, 0xCD, 0x5D, 0x44, 0x71, 0x44, 0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56}};
constexpr Guid kParentLocator{
    {0x2D, 0x5F, 0xD3, 0xA8, 0x0B, 0xB3, 0x4D, 0x45, 0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C}};

constexpr uint64_t kRegionTable = 192 * 1024, kTableSize = 64 * 1024;

// CRC-32C (Castagnoli) of a VHDX structure with its 4-byte checksum field
// (at offset 4) taken as zero, as the format defines it. Bitwise: one region
// table (64 KiB) per inspection.
uint32_t VhdxChecksum(const Bytes& b) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < b.size(); i++) {
    crc ^= (i >= 4 && i < 8) ? 0u : b.data()[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace

bool ProbeVpc(const Bytes& head) { return head.Equals(0, "conectix", 8); }

bool HasVpcFooterAtEnd(Reader& r) { return r.Size() >= 512 && r.UpTo(r.Size() - 512, 8).Equals(0, "conectix", 8); }

void ParseVpc(Reader& r, const Bytes&, ImageInfo& info) {
  Bytes f = r.Exact(0, 512, "vhd footer");
  const uint32_t type = f.Be32(60);
  if (type != 2 && type != 3 && type != 4) Invalid("unsupported vhd disk type " + std::to_string(type));
  const uint64_t sectors = VpcSectors(f);
  if (sectors > 0xff000000u) Invalid("vhd is larger than 2040 GiB");
  info.format = "vpc";
  info.creator = f.CString(28, 4);
  info.virtual_size = sectors * 512;
  info.subformat = type == 2 ? "fixed" : "dynamic";
  if (type == 2) return;

  Bytes d = r.Exact(f.Be64(16), 1024, "vhd dynamic disk header");
  if (!d.Equals(0, "cxsparse", 8)) Invalid("vhd dynamic disk header signature is missing");
  const uint64_t bat_offset = d.Be64(16);
  const uint32_t entries = d.Be32(28), block_size = d.Be32(32);
  if (!IsPow2(block_size) || block_size < 512) Invalid("vhd block size is not a power of two of at least 512");
  if (entries > 0x1fffffff) Invalid("vhd block table has too many entries");
  if (uint64_t{entries} * block_size < info.virtual_size) Invalid("vhd block table is too small for the disk size");
  if (Add(bat_offset, uint64_t{entries} * 4, "vhd block table end") > r.Size())
    Invalid("vhd block table lies past the end of the file");
  info.cluster_size = block_size;
  if (type == 4) {
    info.subformat = "differencing";
    info.Unsafe("vhd differencing disk (has a parent image)");
  }
}

bool ProbeVhdx(const Bytes& head) { return head.Equals(0, "vhdxfile", 8); }

void ParseVhdx(Reader& r, const Bytes&, ImageInfo& info) {
  // qemu reads the first region table only and refuses the image when its
  // signature or checksum is wrong (block/vhdx.c, vhdx_open_region_tables):
  // the backup copy, which qemu never reads, cannot make the image usable.
  Bytes rt = r.Exact(kRegionTable, kTableSize, "vhdx region table");
  if (!rt.Equals(0, "regi", 4)) Invalid("vhdx region table signature is missing");
  if (VhdxChecksum(rt) != rt.Le32(4)) Invalid("vhdx region table checksum is wrong");
  const uint32_t regions = rt.Le32(8);
  if (regions > 2047) Invalid("vhdx region table has too many entries");
  uint64_t meta_offset = 0, meta_length = 0;
  for (uint32_t i = 0; i < regions; i++) {
    const size_t e = 16 + size_t{32} * i;
    if (rt.Equals(e, kRegionMetadata.b, 16)) {
      meta_offset = rt.Le64(e + 16);
      meta_length = rt.Le32(e + 24);
    } else if (!rt.Equals(e, kRegionBat.b, 16) && (rt.Le32(e + 28) & 1)) {
      Invalid("vhdx requires an unknown region");
    }
  }
  if (meta_length < kTableSize) Invalid("vhdx metadata region is missing or too small");
  if (Add(meta_offset, meta_length, "vhdx metadata region end") > r.Size())
    Invalid("vhdx metadata region lies past the end of the file");
  Bytes mt = r.Exact(meta_offset, kTableSize, "vhdx metadata table");
  if (!mt.Equals(0, "metadata", 8)) Invalid("vhdx metadata table signature is missing");
  const uint16_t items = mt.Le16(10);
  if (items > 2047) Invalid("vhdx metadata table has too many entries");

  enum { kParams = 1, kSize = 2, kPage = 4, kLogical = 8, kPhysical = 16, kAll = 31 };
  unsigned present = 0;
  uint32_t block_size = 0, params = 0, logical = 0, physical = 0;
  uint64_t disk_size = 0;
  for (uint32_t i = 0; i < items; i++) {
    const size_t e = 32 + size_t{32} * i;
    const uint32_t off = mt.Le32(e + 16), len = mt.Le32(e + 20), flags = mt.Le32(e + 24);
    if (len == 0) continue;
    if (off < kTableSize || uint64_t{off} + len > meta_length) Invalid("vhdx metadata item lies outside its region");
    auto item = [&](size_t need) {
      if (len < need) Invalid("vhdx metadata item is too short");
      return r.Exact(meta_offset + off, need, "vhdx metadata item");
    };
    if (mt.Equals(e, kFileParameters.b, 16)) {
      Bytes v = item(8);
      block_size = v.Le32(0);
      params = v.Le32(4);
      present |= kParams;
    } else if (mt.Equals(e, kVirtualDiskSize.b, 16)) {
      disk_size = item(8).Le64(0);
      present |= kSize;
    } else if (mt.Equals(e, kPage83.b, 16)) {
      present |= kPage;
    } else if (mt.Equals(e, kLogicalSectorSize.b, 16)) {
      logical = item(4).Le32(0);
      present |= kLogical;
    } else if (mt.Equals(e, kPhysicalSectorSize.b, 16)) {
      physical = item(4).Le32(0);
      present |= kPhysical;
    } else if (mt.Equals(e, kParentLocator.b, 16)) {
      // Only meaningful with the has-parent flag, handled below.
    } else if (flags & 4) {
      Invalid("vhdx requires an unknown metadata item");
    }
  }
  if (present != kAll) Invalid("vhdx metadata lacks a required item");
  if (!IsPow2(block_size) || block_size < (1u << 20) || block_size > (256u << 20))
    Invalid("vhdx block size is not a power of two in 1..256 MiB");
  if (logical != 512 && logical != 4096) Invalid("vhdx logical sector size is not 512 or 4096");
  if (physical != 512 && physical != 4096) Invalid("vhdx physical sector size is not 512 or 4096");
  if (disk_size > (uint64_t{64} << 40)) Invalid("vhdx virtual disk size exceeds 64 TiB");

  info.format = "vhdx";
  info.cluster_size = block_size;
  info.logical_sector_size = logical;
  info.virtual_size = disk_size / 512 * 512;
  info.subformat = (params & 1) ? "fixed" : "dynamic";
  if (params & 2) info.Unsafe("vhdx differencing disk (has a parent image)");
}

}  // namespace ib::image
