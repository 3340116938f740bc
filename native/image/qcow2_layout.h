// The bytes of a new, empty qcow2 v3 overlay, computed without I/O so the
// layout can be unit-tested and fuzzed. Mirrors what `qemu-img create -f qcow2
// -b BASE -F FMT` writes: header cluster (header, backing format and feature
// name table extensions, backing file name), refcount table, refcount
// block(s), then the L1 table; every one of those clusters has refcount 1.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ib::image {

struct OverlayParams {
  std::string backing_file;
  std::string backing_format;
  uint64_t size = 0;           // virtual size in bytes, a multiple of 512
  uint32_t cluster_bits = 16;  // 9..21
  bool extended_l2 = false;    // needs cluster_bits >= 14
};

struct OverlayLayout {
  uint64_t file_size = 0;
  // (offset, bytes) pairs to write; everything else in the file reads as zeros.
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;
};

// Throws std::invalid_argument naming the parameter that cannot be encoded.
OverlayLayout BuildQcow2Overlay(const OverlayParams& params);

}  // namespace ib::image
