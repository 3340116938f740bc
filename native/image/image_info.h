// What inspection learns about one image file. Plain data, filled by the
// format parsers on a worker thread (or the fuzzer) and turned into a JS
// object by inspect_worker.cc. Format names are qemu's, so that `format`
// agrees with `qemu-img info`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ib::image {

struct VmdkExtent {
  std::string access;    // RW, RDONLY, NOACCESS
  uint64_t sectors = 0;  // 512-byte sectors
  std::string type;      // SPARSE, FLAT, ZERO, VMFS...
  std::string filename;  // empty for ZERO extents
  uint64_t offset = 0;   // FLAT extents: start sector in the file
};

struct ImageInfo {
  // raw, qcow2, qed, vmdk, vpc, vhdx, vdi, luks, and the formats qemu reads
  // but nova refuses: parallels, bochs, cloop, dmg.
  std::string format = "raw";
  // What else the bytes look like when qemu would still say raw: iso, gpt,
  // mbr, vpc (a fixed VHD, whose footer qemu does not probe), luks2.
  std::vector<std::string> content_hints;
  uint64_t virtual_size = 0;
  uint64_t actual_size = 0;  // st_blocks * 512
  uint64_t file_size = 0;
  uint64_t cluster_size = 0;  // 0: the format has none
  std::string backing_file;   // as written in the image
  std::string backing_format;
  std::string data_file;  // qcow2 external data file
  bool data_file_raw = false;
  bool encrypted = false;
  std::string encryption_format;  // aes, luks
  bool dirty = false;
  bool corrupt = false;
  bool extended_l2 = false;
  bool lazy_refcounts = false;
  std::string compression_type;  // qcow2 v3: zlib or zstd

  // qcow2
  uint32_t qcow2_version = 0;
  uint32_t refcount_bits = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t nb_snapshots = 0;
  uint32_t nb_bitmaps = 0;
  // vmdk
  std::string create_type;             // what qemu reports (for a sparse file: from its header)
  std::string descriptor_create_type;  // what the (embedded) descriptor's createType line claims
  uint32_t vmdk_version = 0;
  std::vector<VmdkExtent> extents;
  // vpc/vhdx/vdi
  std::string subformat;  // vpc: fixed/dynamic; vhdx: fixed/dynamic; vdi: static/dynamic
  std::string creator;    // vpc creator application
  uint32_t logical_sector_size = 0;
  // luks
  std::string cipher_name, cipher_mode, hash_spec;
  uint64_t payload_offset = 0;

  // Safety verdict: reasons are stable human-readable strings.
  std::vector<std::string> unsafe_reasons;
  void Unsafe(std::string reason) { unsafe_reasons.push_back(std::move(reason)); }
};

}  // namespace ib::image
