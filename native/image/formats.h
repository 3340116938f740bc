// One parser per format family; inspect.cc decides which one runs. Each
// Probe* looks only at the first bytes of the file, like qemu's probes; each
// Parse* reads what it needs through the bounded Reader and throws
// InvalidImage on anything qemu would refuse to open.
#pragma once

#include "image/image_info.h"
#include "image/reader.h"

namespace ib::image {

// The probe window: enough for every signature we check (ISO at 32 KiB).
constexpr size_t kProbeBytes = 64 * 1024;

bool ProbeQcow(const Bytes& head);  // any qcow magic, including version 1
void ParseQcow2(Reader& r, const Bytes& head, ImageInfo& info);

bool ProbeQed(const Bytes& head);
void ParseQed(Reader& r, const Bytes& head, ImageInfo& info);

bool ProbeVmdk(const Bytes& head);  // sparse header or text descriptor
void ParseVmdk(Reader& r, const Bytes& head, ImageInfo& info);

bool ProbeVpc(const Bytes& head);  // 'conectix' at offset 0 (dynamic VHD)
void ParseVpc(Reader& r, const Bytes& head, ImageInfo& info);
bool HasVpcFooterAtEnd(Reader& r);  // fixed VHD: qemu probes it as raw

bool ProbeVhdx(const Bytes& head);
void ParseVhdx(Reader& r, const Bytes& head, ImageInfo& info);

bool ProbeVdi(const Bytes& head);
void ParseVdi(Reader& r, const Bytes& head, ImageInfo& info);

bool ProbeLuks(const Bytes& head);  // LUKS version 1, the one qemu opens
bool ProbeLuks2(const Bytes& head);
void ParseLuks(Reader& r, const Bytes& head, ImageInfo& info);

// Formats qemu reads and nova refuses (format_legacy.cc): always unsafe.
bool ProbeParallels(const Bytes& head);
void ParseParallels(Reader& r, const Bytes& head, ImageInfo& info);
bool ProbeBochs(const Bytes& head);
void ParseBochs(Reader& r, const Bytes& head, ImageInfo& info);
bool ProbeCloop(const Bytes& head);
void ParseCloop(Reader& r, const Bytes& head, ImageInfo& info);
bool HasDmgTrailer(Reader& r);  // the "koly" trailer in the last 512 bytes
void ParseDmg(Reader& r, ImageInfo& info);

// Content signatures qemu reports as raw.
bool ProbeIso(const Bytes& head);
bool ProbeGpt(const Bytes& head);
bool ProbeMbr(const Bytes& head);  // the 0x55AA signature (also a FAT boot sector's)
// A FAT volume boot record: same signature as an MBR, but a BPB (oslo's test).
bool IsFatBootSector(const Bytes& head);
// oslo's GPT/MBR safety check over the four partition entries; adds a
// reason to `info` for each violation. Only for bytes ProbeMbr accepts.
void CheckMbrPartitions(const Bytes& head, ImageInfo& info);

}  // namespace ib::image
