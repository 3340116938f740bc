#!/usr/bin/env bash
# `npm run test:leak`: runs a loop of the addon's calls (scripts/leak/loop.mjs:
# inspect, qcow2 overlay creation, block-device size/zero/discard on files,
# RBD connect/create/size/stat/import/remove/close, and their error paths)
# under valgrind memcheck against a throwaway Ceph cluster
# (scripts/ceph-cluster.sh, in a temporary folder), and fails on any memcheck
# error or any "definitely lost" block that native/valgrind.supp does not
# explain. The loop ends with two forced GCs, so finalizers have run and what
# remains lost is the addon's.
#
#   scripts/leak-check.sh [--quick] [--iterations N]
#
# --quick: 2 iterations (CI); default 10. Needs valgrind, qemu-img, the Ceph
# daemons (scripts/setup.sh installs them), a built addon and dist/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
iterations=10
while (($#)); do
  case $1 in
    --quick) iterations=2 ;;
    --iterations) iterations=$2; shift ;;
    *) echo "usage: $0 [--quick] [--iterations N]" >&2; exit 2 ;;
  esac
  shift
done
start=$SECONDS

for tool in valgrind:valgrind qemu-img:qemu-utils; do
  command -v "${tool%%:*}" >/dev/null || { echo "leak-check: ${tool%%:*} not found: apt-get install ${tool##*:}" >&2; exit 1; }
done
[[ -f dist/index.js ]] || npm run build:ts
binary="$(node -p "require('node-gyp-build').path('.')" 2>/dev/null)" || {
  echo "leak-check: the addon is not built: npm run build:native" >&2
  exit 1
}

tmp="$(mktemp -d -t imagebackend-leak.XXXXXX)"
cluster="$tmp/ceph"
cleanup() {
  bash scripts/ceph-cluster.sh stop "$cluster" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/work"
bash scripts/ceph-cluster.sh start "$cluster" >"$tmp/ceph.env" 2>"$tmp/ceph.log" || {
  cat "$tmp/ceph.log" >&2
  exit 1
}
set -a
# shellcheck disable=SC1091
. "$tmp/ceph.env"
set +a

log="$tmp/valgrind.log"
echo "leak-check: $iterations iterations of the native calls under valgrind ($binary)"
status=0
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --error-exitcode=99 --num-callers=40 --suppressions="$root/native/valgrind.supp" --gen-suppressions=all \
  --log-file="$log" \
  node --expose-gc scripts/leak/loop.mjs "$iterations" "$tmp/work" || status=$?

grep -E 'ERROR SUMMARY|definitely lost:|indirectly lost:' "$log" | sed 's/^==[0-9]*== */leak-check: /'
if ((status != 0)) || [[ ! -f $tmp/work/done ]]; then
  # Every error with its stack and a suppression stub; a stub goes into
  # native/valgrind.supp only for noise that is provably not the addon's.
  grep -v '^==[0-9]*== Warning: set address range perms' "$log" >&2 || true
  echo "leak-check: FAILED (valgrind exit $status) after $((SECONDS - start)) s" >&2
  exit 1
fi
echo "leak-check: ok in $((SECONDS - start)) s"
