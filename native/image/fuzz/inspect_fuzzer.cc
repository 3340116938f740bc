// libFuzzer harness for the image header parser (plain C++, no N-API).
// Any input must end in a result or InvalidImage: a crash, sanitizer report,
// other exception or timeout is a bug. Built by CMakeLists.txt next to this
// file; run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "image/inspect.h"
#include "image/qcow2_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ib::image::MemReader reader(data, size);
  try {
    ib::image::ImageInfo info = ib::image::Inspect(reader);
    // Whatever was accepted must be self-consistent enough to print.
    (void)ib::image::CombineBackingPath("/images/x", info.backing_file);
  } catch (const ib::image::InvalidImage&) {
  }
  // The overlay layout from fuzzed parameters: invalid ones must throw
  // std::invalid_argument, never write out of bounds.
  if (size >= 12) {
    ib::image::OverlayParams p;
    p.cluster_bits = 9 + data[0] % 13;
    p.extended_l2 = data[1] & 1;
    p.size = (uint64_t{data[2]} << 24 | uint64_t{data[3]} << 16 | uint64_t{data[4]} << 8) * 512;
    p.backing_file.assign(reinterpret_cast<const char*>(data + 12), (size - 12) % 1100);
    p.backing_format = "raw";
    try {
      ib::image::BuildQcow2Overlay(p);
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
