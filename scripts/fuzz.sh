#!/usr/bin/env bash
# Builds the image-parser fuzzer (clang, libFuzzer, ASan, UBSan) and runs it
# for SECONDS (default 60), seeded with images qemu-img makes in every format.
# Needs: clang libclang-rt-14-dev cmake qemu-utils (Debian package names).
# Crashes are written to build-fuzz/artifacts/ and make the script fail.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build-fuzz"

for tool in clang++:clang cmake:cmake qemu-img:qemu-utils; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "fuzz.sh: ${tool%%:*} not found: apt-get install ${tool##*:}" >&2
    exit 1
  fi
done

CXX=clang++ cmake -S "$root/native/image/fuzz" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$out" -j "$(nproc)" >/dev/null

corpus="$out/corpus"
seeds="$out/seeds"
rm -rf "$seeds"
mkdir -p "$corpus" "$seeds" "$out/artifacts"
q() { qemu-img create -q "$@" >/dev/null; }
cd "$seeds"
q -f raw base.raw 1M
q -f qcow2 -b base.raw -F raw qcow2-backing 1M
q -f qcow2 -o compat=0.10,cluster_size=512 qcow2-v2 1M
q -f qcow2 -o cluster_size=16384,extended_l2=on,compression_type=zstd qcow2-ext 1M
q -f qcow2 -o data_file=df.raw,data_file_raw=on qcow2-df 1M
q -f qed -b base.raw -F raw qed 1M
q -f vmdk vmdk-sparse 1M
q -f vmdk -o subformat=streamOptimized vmdk-stream 1M
q -f vmdk -o subformat=monolithicFlat vmdk-flat 1M
q -f vpc vpc 1M
q -f vhdx vhdx 1M
q -f vdi vdi 1M
# Keep the seeds small: the headers are what matter (vhdx's tables end by 2 MiB).
for f in *; do
  [ "$(stat -c %s "$f")" -gt 3145728 ] && truncate -s 3145728 "$f"
done
rm -f base.raw df.raw
cd "$root"

# Inputs that once crashed the parser run first, every time, as regressions.
regressions="$root/native/image/fuzz/regressions"
echo "fuzz.sh: replaying $(find "$regressions" -type f | wc -l) regression inputs"
"$out/inspect_fuzzer" -runs=1 "$regressions"/* >/dev/null 2>&1 || {
  "$out/inspect_fuzzer" -runs=1 "$regressions"/*
  echo "fuzz.sh: a regression input fails again" >&2
  exit 1
}

echo "fuzz.sh: running for ${seconds}s"
"$out/inspect_fuzzer" "$corpus" "$seeds" "$regressions" -max_total_time="$seconds" -max_len=3145728 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" -print_final_stats=1

# The rbd class-method reply decoders (native/rbd/cls_decode.cc), for the same
# time, seeded with well-formed replies (first byte: which decoder).
rbd_out="$out/rbd"
CXX=clang++ cmake -S "$root/native/rbd/fuzz" -B "$rbd_out" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$rbd_out" -j "$(nproc)" >/dev/null
mkdir -p "$rbd_out/corpus" "$rbd_out/seeds"
printf '\x00\x0c\x00\x00\x00107a6b8b4567' >"$rbd_out/seeds/get_id"
printf '\x01\x16\x00\x00\x40\x00\x00\x00\x00\x00' >"$rbd_out/seeds/get_size"
printf '\x02\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00' >"$rbd_out/seeds/snapcontext"
printf '\x03\x01\x01\x22\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x01\x04\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00snap\x00\x00\x40\x00\x00\x00\x00\x00' >"$rbd_out/seeds/snapshot_get"
echo "fuzz.sh: running the rbd decoder fuzzer for ${seconds}s"
"$rbd_out/cls_fuzzer" "$rbd_out/corpus" "$rbd_out/seeds" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -artifact_prefix="$out/artifacts/rbd-" -print_final_stats=1
