#!/usr/bin/env bash
# Runs scripts/rbd-race/run.sh inside the Debian 13 (trixie, Ceph 18.2 Reef)
# root that scripts/trixie-test.sh builds and caches: same private PID and
# mount namespace, chroot, this checkout and the pinned Node.js 22
# bind-mounted at their own paths.
#
#   scripts/rbd-race/trixie.sh [RUNS ...]                 run.sh with these arguments
#   scripts/rbd-race/trixie.sh lookup-bench.mjs [N]       that script with Node 22 (needs dist/)
#
# Needs root and the cached root (run scripts/trixie-test.sh once to build it).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../node-versions.sh
source "$repo/scripts/node-versions.sh"
node22=""
for version in "${NODE_EXTRA_VERSIONS[@]}"; do [[ ${version%%.*} == 22 ]] && node22="$NODE_EXTRA_ROOT/$version"; done
command=(bash "$repo/scripts/rbd-race/run.sh" "$@")
if [[ ${1:-} == *.mjs ]]; then
  [[ -x $node22/bin/node ]] || { echo "rbd-race: the pinned Node.js 22 is not installed (scripts/install-node.sh)" >&2; exit 2; }
  command=("$node22/bin/node" "$repo/scripts/rbd-race/$1" "${@:2}")
fi
cache="${TRIXIE_CACHE:-/var/cache/imagebackend}"
# The root trixie-test.sh built (its name carries a hash of its package list).
rootfs="$(find "$cache" -maxdepth 1 -name 'trixie-*' -type d -exec test -f '{}/.complete' ';' -print -quit 2>/dev/null || true)"
[[ -n $rootfs ]] || { echo "rbd-race: no Debian 13 root in $cache: run scripts/trixie-test.sh first" >&2; exit 2; }
chroot "$rootfs" test -f /usr/include/rbd/librbd.h -a -x /usr/bin/g++ \
  || { echo "rbd-race: $rootfs lacks librbd-dev or g++" >&2; exit 2; }

inner='
set -euo pipefail
rootfs=$1 repo=$2 node=$3
shift 3
mount -t proc proc "$rootfs/proc"
mount --rbind /sys "$rootfs/sys"
mount --rbind /dev "$rootfs/dev"
mount -t tmpfs -o size=16g tmpfs "$rootfs/tmp"
mkdir -p "$rootfs$repo"
mount --bind "$repo" "$rootfs$repo"
if [[ -n $node ]]; then
  mkdir -p "$rootfs$node"
  mount --bind -o ro "$node" "$rootfs$node"
fi
exec chroot "$rootfs" env -i HOME=/root TMPDIR=/tmp PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  RACE_TIMEOUT="${RACE_TIMEOUT:-300}" "$@"
'
exec unshare --pid --fork --mount --propagation private -- bash -c "$inner" bash "$rootfs" "$repo" "$node22" "${command[@]}"
