// The header parser's entry points. Plain C++, no N-API: the addon calls it
// from a worker thread, the fuzzer calls it on memory.
#pragma once

#include <string>
#include <vector>

#include "image/image_info.h"
#include "image/reader.h"

namespace ib::image {

// Identifies the format the way qemu's probing would, parses its header and
// fills the safety verdict. Throws InvalidImage for malformed headers and
// IoFailure when a read fails. actual_size is left to the caller (it needs
// fstat, which a MemReader has no notion of).
ImageInfo Inspect(Reader& reader);

// qemu's path_combine: a relative backing file is relative to the directory
// of the image naming it; absolute paths and "protocol:" strings stay as is.
std::string CombineBackingPath(const std::string& image_path, const std::string& backing);

// Opens `path` read-only (O_NOFOLLOW is not used: images are often symlinks
// into a cache), inspects it and fills actual_size from st_blocks.
ImageInfo InspectPath(const std::string& path);

struct ChainLink {
  std::string path;  // the resolved path that was opened
  ImageInfo info;
};

// Follows backing files from `top` (already inspected at `path`), at most
// max_depth links. A loop (same device and inode twice) is InvalidImage; a
// chain deeper than max_depth, a backing file that is not a local path or a
// backing format that disagrees with what the file is are added as unsafe
// reasons to `top`.
std::vector<ChainLink> FollowBackingChain(const std::string& path, ImageInfo& top, unsigned max_depth);

}  // namespace ib::image
