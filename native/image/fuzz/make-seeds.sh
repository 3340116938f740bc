#!/usr/bin/env bash
# Regenerates the committed seed corpus (native/image/fuzz/corpus/seed): one
# small input per format and content signature the inspector knows, each cut
# to at most 64 KiB so the corpus stays small in git. The headers are what the
# fuzzer needs; scripts/fuzz.sh also seeds each run with whole images.
# Needs: qemu-utils, xorriso. Usage: bash native/image/fuzz/make-seeds.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seed="$here/corpus/seed"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
q() { qemu-img create -q "$@" >/dev/null; }
q -f raw base.raw 64K
q -f qcow2 -o cluster_size=512 qcow2 1M
q -f qcow2 -o compat=0.10,cluster_size=512 qcow2-v2 1M
q -f qcow2 -o cluster_size=16384,extended_l2=on,compression_type=zstd qcow2-ext 1M
q -f qcow2 -o cluster_size=512 -b base.raw -F raw qcow2-backing 1M
q -f qcow2 -o cluster_size=512,data_file=df.raw,data_file_raw=on qcow2-datafile 1M
q -f qed -o cluster_size=4096 -b base.raw -F raw qed 1M
q -f vmdk vmdk-sparse 1M
q -f vmdk -o subformat=streamOptimized vmdk-stream 64K
q -f vmdk -o subformat=monolithicFlat vmdk-flat 64K
q -f vpc vpc 1M
q -f vdi vdi 1M
q -f parallels -o cluster_size=4096 parallels 1M
# bochs redolog v2, cloop v2, dmg trailer, MBR, protective MBR + GPT, hybrid ISO
python3 - <<'PY'
import struct
b = bytearray(576); b[0:22] = b'Bochs Virtual HD Image'; b[32:39] = b'Redolog'; b[48:55] = b'Growing'
struct.pack_into('<IIIII', b, 64, 0x20000, 512, 16, 512, 4096); struct.pack_into('<Q', b, 88, 65536); b[512:] = b'\xff' * 64
open('bochs', 'wb').write(b)
c = bytearray(160); m = b'#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n'
c[0:len(m)] = m; struct.pack_into('>II', c, 128, 4096, 2)
for i in range(3): struct.pack_into('>Q', c, 136 + 8 * i, 160)
open('cloop', 'wb').write(c)
d = bytearray(4096); t = 4096 - 512; d[t:t + 4] = b'koly'; struct.pack_into('>II', d, t + 4, 4, 512); struct.pack_into('>Q', d, t + 0x1ec, 8)
open('dmg', 'wb').write(d)
r = bytearray(65536); r[446:462] = bytes([0x80, 0, 33, 0, 0x83, 0xfe, 0xff, 0xff]) + struct.pack('<II', 2048, 100); r[510:512] = b'\x55\xaa'
open('mbr', 'wb').write(r)
g = bytearray(65536); g[446:462] = bytes([0, 0, 2, 0, 0xee, 0xfe, 0xff, 0xff]) + struct.pack('<II', 1, 127); g[510:512] = b'\x55\xaa'; g[512:520] = b'EFI PART'
open('gpt', 'wb').write(g)
PY
mkdir -p iso/EFI/boot && echo seed > iso/readme.txt && head -c 65536 /dev/zero > iso/EFI/boot/efi.img
xorriso -as mkisofs -quiet -o hybrid.iso -V SEED -e EFI/boot/efi.img -no-emul-boot \
  -append_partition 2 0xef iso/EFI/boot/efi.img -appended_part_as_gpt iso >/dev/null 2>&1
rm -rf iso base.raw df.raw vmdk-flat-flat.vmdk vmdk-flat-flat
rm -rf "$seed"
mkdir -p "$seed"
for f in *; do
  head -c 65536 "$f" > "$seed/$f"
done
# The stream-optimized VMDK and the dmg keep their trailers: whole, they are small.
cp vmdk-stream dmg "$seed/"
du -sh "$seed"
