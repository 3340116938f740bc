// VMDK: the sparse extent header ('KDMV', also streamOptimized with its
// footer) with an embedded descriptor, and stand-alone text descriptor files
// (monolithicFlat, twoGbMaxExtent*) whose extents are other files. The
// descriptor is parsed cautiously, line by line, as nova's inspector does:
// a line we do not understand makes the image invalid.
#include <cctype>

#include "image/formats.h"

namespace ib::image {

namespace {

constexpr uint64_t kGdAtEnd = ~uint64_t{0};
constexpr size_t kMaxDescriptor = (1u << 20) - 1;  // qemu's cap
constexpr uint64_t kMaxSectors = uint64_t{1} << 54;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Unquote(const std::string& v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

uint64_t ParseDecimal(const std::string& s, const char* what) {
  if (s.empty() || s.size() > 19) Invalid(std::string("vmdk descriptor ") + what + " is not a number");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') Invalid(std::string("vmdk descriptor ") + what + " is not a number");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// ACCESS SECTORS TYPE ["FILENAME" [OFFSET]]
VmdkExtent ParseExtent(const std::string& line, size_t lineno) {
  const std::string where = "vmdk descriptor line " + std::to_string(lineno);
  VmdkExtent e;
  size_t p = 0;
  auto token = [&]() {
    while (p < line.size() && line[p] == ' ') p++;
    size_t start = p;
    while (p < line.size() && line[p] != ' ') p++;
    return line.substr(start, p - start);
  };
  e.access = Upper(token());
  e.sectors = ParseDecimal(token(), "extent size");
  if (e.sectors == 0 || e.sectors > kMaxSectors) Invalid(where + ": extent size is out of range");
  e.type = Upper(token());
  static const char* const kTypes[] = {"FLAT",       "SPARSE",  "ZERO",    "VMFS",
                                       "VMFSSPARSE", "VMFSRDM", "VMFSRAW", "SESPARSE"};
  bool known = false;
  for (const char* t : kTypes) known = known || e.type == t;
  if (!known) Invalid(where + ": unknown extent type '" + e.type.substr(0, 16) + "'");
  while (p < line.size() && line[p] == ' ') p++;
  if (p < line.size()) {
    if (line[p] != '"') Invalid(where + ": extent file name is not quoted");
    size_t close = line.find('"', p + 1);
    if (close == std::string::npos) Invalid(where + ": extent file name is not terminated");
    e.filename = line.substr(p + 1, close - p - 1);
    if (e.filename.empty() || e.filename.size() > 511) Invalid(where + ": extent file name is empty or too long");
    p = close + 1;
    std::string offset = token();
    if (!offset.empty()) e.offset = ParseDecimal(offset, "extent offset");
    if (!token().empty()) Invalid(where + ": trailing text after the extent");
  } else if (e.type != "ZERO") {
    Invalid(where + ": extent names no file");
  }
  return e;
}

void ParseDescriptor(const Bytes& raw, bool embedded, ImageInfo& info) {
  std::string text = raw.CString(0, raw.size());
  size_t lineno = 0, pos = 0;
  while (pos < text.size()) {  // each pass consumes one line
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    lineno++;
    if (line.empty() || line[0] == '#') continue;
    for (unsigned char c : line)
      if ((c < 0x20 && c != '\t') || c > 0x7e)
        Invalid("vmdk descriptor line " + std::to_string(lineno) + " contains non-text bytes");
    std::string first = Upper(line.substr(0, line.find(' ')));
    if (first == "RW" || first == "RDONLY" || first == "NOACCESS") {
      info.extents.push_back(ParseExtent(line, lineno));
      continue;
    }
    if (line.compare(0, 3, "ddb") == 0) continue;  // disk database: informational
    size_t eq = line.find('=');
    std::string key = eq == std::string::npos ? "" : Trim(line.substr(0, eq));
    if (key.empty() || key.find_first_of(" \t") != std::string::npos)
      Invalid("vmdk descriptor line " + std::to_string(lineno) + " is not understood");
    std::string value = Unquote(Trim(line.substr(eq + 1)));
    if (key == "createType") info.descriptor_create_type = value;
    if (key == "parentFileNameHint") info.backing_file = value;
  }
  if (!embedded && info.descriptor_create_type.empty()) Invalid("vmdk descriptor has no createType");
  // A descriptor file's type is its createType; a sparse file's is decided by
  // its header (ParseSparse), as qemu does, whatever its descriptor claims.
  if (!embedded) info.create_type = info.descriptor_create_type;
  if (!embedded && info.extents.empty()) Invalid("vmdk descriptor lists no extents");

  for (const VmdkExtent& e : info.extents) {
    if (e.filename.empty()) continue;
    if (e.filename[0] == '/')
      info.Unsafe("vmdk extent uses an absolute path: '" + e.filename + "'");
    else if (!embedded || e.filename.find('/') != std::string::npos)
      // A sparse file's own descriptor names itself, and qemu ignores those
      // lines; a descriptor file's extents are other files by definition.
      info.Unsafe("vmdk extent references another file: '" + e.filename + "'");
  }
  if (!info.backing_file.empty()) info.Unsafe("backing file: '" + info.backing_file + "'");
}

void ParseSparse(Reader& r, ImageInfo& info) {
  Bytes h = r.Exact(0, 512, "vmdk sparse header");
  if (h.Le64(56) == kGdAtEnd) {
    // streamOptimized: the real header is repeated in a footer before the
    // end-of-stream marker (footer marker sector, footer, eos marker).
    if (r.Size() < 1536) Invalid("vmdk stream footer is missing (file too short)");
    Bytes footer = r.Exact(r.Size() - 1536, 1024, "vmdk stream footer");
    if (footer.Le32(12) != 3 || !footer.Equals(512, "KDMV", 4)) Invalid("vmdk stream footer is invalid");
    h = r.Exact(r.Size() - 1024, 512, "vmdk footer header");
  }
  const uint32_t version = h.Le32(4);
  const uint64_t capacity = h.Le64(12), granularity = h.Le64(20);
  const uint64_t desc_offset = h.Le64(28), desc_size = h.Le64(36);
  const uint32_t gtes = h.Le32(44);
  if (version == 0 || version > 3) Invalid("unsupported vmdk version " + std::to_string(version));
  if (gtes == 0 || gtes > 512) Invalid("vmdk grain table size is invalid");
  if (granularity == 0 || granularity > 0x200000) Invalid("vmdk granularity is invalid");
  const uint64_t per_l1 = uint64_t{gtes} * granularity;
  if (capacity > kMaxSectors) Invalid("vmdk capacity is out of range");
  if ((capacity + per_l1 - 1) / per_l1 > (32u << 20)) Invalid("vmdk L1 table is too big");
  info.format = "vmdk";
  info.vmdk_version = version;
  // qemu's vmdk_open_vmdk4: monolithicSparse, or streamOptimized when the
  // (footer's) header says its grains are deflate-compressed.
  constexpr uint16_t kCompressionDeflate = 1;
  info.create_type = h.Le16(77) == kCompressionDeflate ? "streamOptimized" : "monolithicSparse";
  info.virtual_size = capacity * 512;
  info.cluster_size = granularity * 512;
  if (desc_size > 0) {
    uint64_t off = Mul(desc_offset, 512, "vmdk descriptor offset");
    uint64_t len = Mul(desc_size, 512, "vmdk descriptor size");
    if (len > kMaxDescriptor) len = kMaxDescriptor;
    if (Add(off, len, "vmdk descriptor end") > r.Size()) Invalid("vmdk descriptor lies past the end of the file");
    ParseDescriptor(r.Exact(off, static_cast<size_t>(len), "vmdk descriptor"), true, info);
  }
}

}  // namespace

bool ProbeVmdk(const Bytes& head) {
  if (head.Equals(0, "KDMV", 4) || head.Equals(0, "COWD", 4)) return true;
  // qemu's vmdk_probe: comments and blank lines, then "version=1|2|3".
  size_t p = 0, end = head.size() < 2048 ? head.size() : 2048;
  const uint8_t* b = head.data();
  while (p < end) {
    if (b[p] == '#') {
      while (p < end && b[p] != '\n') p++;
      p++;
      continue;
    }
    if (b[p] == ' ') {
      while (p < end && b[p] == ' ') p++;
      if (p < end && b[p] == '\r') p++;
      if (p == end || b[p] != '\n') return false;
      p++;
      continue;
    }
    for (const char* v : {"version=1", "version=2", "version=3"}) {
      if (head.Equals(p, v, 9) && (head.Equals(p + 9, "\n", 1) || head.Equals(p + 9, "\r\n", 2))) return true;
    }
    return false;
  }
  return false;
}

void ParseVmdk(Reader& r, const Bytes& head, ImageInfo& info) {
  if (head.Equals(0, "COWD", 4)) Invalid("vmdk version 3 (COWD) images are not supported");
  if (head.Equals(0, "KDMV", 4)) {
    ParseSparse(r, info);
    return;
  }
  if (r.Size() < 4) Invalid("vmdk descriptor file is too small");
  info.format = "vmdk";
  ParseDescriptor(r.UpTo(0, kMaxDescriptor), false, info);
  // The descriptor-file create types qemu's vmdk_open_desc_file accepts (and the raw-device ones).
  static const char* const kTypes[] = {"monolithicFlat",
                                       "vmfs",
                                       "vmfsSparse",
                                       "seSparse",
                                       "twoGbMaxExtentSparse",
                                       "twoGbMaxExtentFlat",
                                       "vmfsRaw",
                                       "vmfsRawDeviceMap",
                                       "vmfsPassthroughRawDeviceMap"};
  bool known = false;
  for (const char* t : kTypes) known = known || info.create_type == t;
  if (!known) Invalid("vmdk descriptor createType '" + info.create_type.substr(0, 32) + "' is not supported");
  uint64_t sectors = 0;
  for (const VmdkExtent& e : info.extents) sectors = Add(sectors, e.sectors, "vmdk extent total");
  info.virtual_size = Mul(sectors, 512, "vmdk virtual size");
}

}  // namespace ib::image
