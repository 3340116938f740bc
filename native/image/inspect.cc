// Format detection the way qemu probes (first bytes of the file, raw as the
// fallback), then the claimed format's parser, then the cross-format checks
// of nova's format_inspector: bytes claimed by two formats are unsafe.
#include "image/inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <utility>

#include "common/fd.h"
#include "image/formats.h"

namespace ib::image {

namespace {

struct Format {
  const char* name;
  bool (*probe)(const Bytes&);
  void (*parse)(Reader&, const Bytes&, ImageInfo&);
};

// qemu's probes all score 100 on a signature match; order only matters for
// crafted files that match several, and those are reported unsafe anyway.
const Format kFormats[] = {
    {"qcow2", ProbeQcow, ParseQcow2},  {"qed", ProbeQed, ParseQed},
    {"vmdk", ProbeVmdk, ParseVmdk},    {"vpc", ProbeVpc, ParseVpc},
    {"vhdx", ProbeVhdx, ParseVhdx},    {"vdi", ProbeVdi, ParseVdi},
    {"luks", ProbeLuks, ParseLuks},    {"parallels", ProbeParallels, ParseParallels},
    {"bochs", ProbeBochs, ParseBochs}, {"cloop", ProbeCloop, ParseCloop},
};

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// qemu's path_has_protocol: a ':' before any '/' means "proto:..." (nbd:, json:).
bool HasProtocol(const std::string& path) {
  size_t stop = path.find_first_of(":/\\");
  return stop != std::string::npos && path[stop] == ':';
}

ImageInfo InspectOpen(const std::string& path, struct stat* st) {
  // A block device is an image too (an LVM volume, a loop device); a FIFO,
  // socket or character device is refused before any read can block on it.
  Fd fd;
  int r = OpenFile(path, O_RDONLY, 0, FileKinds::kRegularOrBlock, &fd, st);
  if (r == kWrongFileType && S_ISDIR(st->st_mode)) throw IoFailure{EISDIR, "open", path};
  if (r == kWrongFileType)
    throw IoFailure{EINVAL, "filetype", path, WrongFileTypeDetail(st->st_mode, FileKinds::kRegularOrBlock)};
  if (r < 0) throw IoFailure{-r, "open", path};
  FdReader reader(fd.get(), path);
  ImageInfo info = Inspect(reader);
  info.actual_size = static_cast<uint64_t>(st->st_blocks) * 512;
  return info;
}

}  // namespace

ImageInfo Inspect(Reader& reader) {
  ImageInfo info;
  info.file_size = reader.Size();
  Bytes head = reader.UpTo(0, kProbeBytes);

  std::vector<std::string> claims;
  const Format* chosen = nullptr;
  for (const Format& f : kFormats) {
    if (!f.probe(head)) continue;
    claims.emplace_back(f.name);
    if (chosen == nullptr) chosen = &f;
  }
  // qemu probes dmg by file name; its trailer is at the end, not in `head`.
  const bool dmg = HasDmgTrailer(reader);
  if (dmg) claims.emplace_back("dmg");
  if (chosen != nullptr) {
    chosen->parse(reader, head, info);
  } else if (dmg) {
    ParseDmg(reader, info);
  } else {
    info.format = "raw";
    // qemu's raw driver rounds the length up to whole sectors.
    info.virtual_size = Add(reader.Size(), 511, "raw size") / 512 * 512;
    if (ProbeMbr(head)) info.content_hints.emplace_back("mbr");
    if (ProbeLuks2(head)) info.content_hints.emplace_back("luks2");
    if (HasVpcFooterAtEnd(reader)) info.content_hints.emplace_back("vpc");
  }
  // ISO 9660 and GPT are what nova's inspector also looks for: either one
  // next to another format means two readers would see different disks.
  const bool iso = ProbeIso(head), gpt = ProbeGpt(head);
  const bool mbr = ProbeMbr(head) && !IsFatBootSector(head);
  if (iso) claims.emplace_back("iso");
  // A bootable ("hybrid") ISO, as distribution installers are, carries an
  // MBR and often a GPT for USB booting: it is one image, an ISO, and its
  // partition table describes the ISO's own extents.
  const bool hybrid_iso = iso && claims.size() == 1;
  if (gpt && !hybrid_iso) claims.emplace_back("gpt");
  if (info.format == "raw") {
    if (gpt) info.content_hints.insert(info.content_hints.begin(), "gpt");
    if (iso) info.content_hints.insert(info.content_hints.begin(), "iso");
    // oslo's partition-table sanity checks, for a raw disk whose first
    // sector is an MBR (a GPT's protective one included).
    if (mbr && !hybrid_iso) CheckMbrPartitions(head, info);
  }
  if (claims.size() > 1) info.Unsafe("multiple formats detected: " + Join(claims));
  return info;
}

std::string CombineBackingPath(const std::string& image_path, const std::string& backing) {
  if (backing.empty() || backing[0] == '/' || HasProtocol(backing)) return backing;
  size_t slash = image_path.rfind('/');
  if (slash == std::string::npos) return backing;
  return image_path.substr(0, slash + 1) + backing;
}

ImageInfo InspectPath(const std::string& path) {
  struct stat st;
  return InspectOpen(path, &st);
}

std::vector<ChainLink> FollowBackingChain(const std::string& path, ImageInfo& top, unsigned max_depth) {
  std::vector<ChainLink> chain;
  std::set<std::pair<dev_t, ino_t>> seen;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw IoFailure{errno, "stat", path};
  seen.emplace(st.st_dev, st.st_ino);

  std::string current_path = path;
  std::string backing = top.backing_file;
  std::string backing_format = top.backing_format;
  for (unsigned depth = 0; !backing.empty(); depth++) {  // bounded by max_depth
    if (depth >= max_depth) {
      top.Unsafe("backing chain is deeper than maxDepth " + std::to_string(max_depth));
      break;
    }
    if (HasProtocol(backing)) {
      top.Unsafe("backing file is not a local path: '" + backing + "'");
      break;
    }
    std::string resolved = CombineBackingPath(current_path, backing);
    ImageInfo info;
    try {
      info = InspectOpen(resolved, &st);
    } catch (const InvalidImage& e) {
      Invalid("backing file '" + resolved + "': " + e.reason);
    }
    if (!seen.emplace(st.st_dev, st.st_ino).second) Invalid("backing chain loops back to '" + resolved + "'");
    if (backing_format.empty())
      top.Unsafe("backing file '" + resolved + "' has no recorded format (qemu would probe it)");
    else if (backing_format != info.format)
      top.Unsafe("backing file '" + resolved + "' is " + info.format + " but recorded as " + backing_format);
    // The next link's own backing file is followed below, not repeated here.
    for (const auto& reason : info.unsafe_reasons)
      if (reason.rfind("backing file: ", 0) != 0) top.Unsafe("backing file '" + resolved + "': " + reason);
    current_path = resolved;
    backing = info.backing_file;
    backing_format = info.backing_format;
    chain.push_back({std::move(resolved), std::move(info)});
  }
  return chain;
}

}  // namespace ib::image
