#!/usr/bin/env bash
# The Debian 13 (trixie) job: Ceph 18.2 Reef, qemu 10, lvm2 2.03.31.
#
#  1. Builds a trixie root with mmdebstrap from Debian's packages (the only
#     archive these machines reach) into $TRIXIE_CACHE (default
#     /var/cache/imagebackend), keyed by the package list, and reuses it on
#     later runs: a build takes minutes, a reuse nothing.
#  2. In a private PID and mount namespace (so every daemon a test starts dies
#     with it and nothing is mounted on the host afterwards), chroots into the
#     root with this checkout and the pinned Node.js 22 bind-mounted at their
#     own paths, and runs the integration tier (test/native, test/integration:
#     scripts/ceph-cluster.sh's cluster on trixie's ceph-mon/osd/mgr, trixie's
#     qemu-img and lvm2) with the binary built here on Debian 12. Glance and
#     nova are peers of the main job (Debian 12's glance-api and python3-nova,
#     whose versions the fixture and the parity test are written against):
#     their tests are left out here.
#  3. Compiles the addon from source inside the root (trixie's g++ and Ceph
#     headers) in a copy of the checkout and runs the native contract tests and
#     the RBD driver tests with it.
# Needs root, the npm dependencies installed (node_modules) and build/Release.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=node-versions.sh
source "$repo/scripts/node-versions.sh"
start=$SECONDS

packages=(
  ceph-mon ceph-osd ceph-mgr ceph-common python3-rbd qemu-utils qemu-block-extra lvm2 util-linux e2fsprogs
  procps iproute2 kmod
  # virt-xml-validate for the disk XML tests (a shell script over xmllint)
  libvirt-clients libxml2-utils
  # the source build
  build-essential python3 pkg-config librbd-dev librados-dev liblvm2-dev
)
cache="${TRIXIE_CACHE:-/var/cache/imagebackend}"
key="$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-12)"
rootfs="$cache/trixie-$key"
if [[ ! -f $rootfs/.complete ]]; then
  mkdir -p "$cache"
  rm -rf "$rootfs" "$rootfs.partial"
  echo "trixie-test: building the Debian 13 root (${#packages[@]} packages)" >&2
  mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${packages[*]}")" \
    trixie "$rootfs.partial" http://deb.debian.org/debian
  touch "$rootfs.partial/.complete"
  mv "$rootfs.partial" "$rootfs"
fi
echo "trixie-test: root $rootfs ($(chroot "$rootfs" dpkg-query -W -f '${Version}' librbd1) librbd, $(chroot "$rootfs" dpkg-query -W -f '${Version}' qemu-utils) qemu-utils) after $((SECONDS - start)) s" >&2

node22=""
for version in "${NODE_EXTRA_VERSIONS[@]}"; do [[ ${version%%.*} == 22 ]] && node22="$NODE_EXTRA_ROOT/$version"; done
[[ -x $node22/bin/node ]] || { echo "trixie-test: the pinned Node.js 22 is not installed (scripts/install-node.sh)" >&2; exit 1; }

# Runs inside the new namespaces: mounts, then the tests in the chroot.
inner='
set -euo pipefail
rootfs=$1 repo=$2 node=$3
mount -t proc proc "$rootfs/proc"
mount --rbind /sys "$rootfs/sys"
mount --rbind /dev "$rootfs/dev"
mount -t tmpfs -o size=16g tmpfs "$rootfs/tmp"
mkdir -p "$rootfs$repo" "$rootfs$node"
mount --bind "$repo" "$rootfs$repo"
mount --bind -o ro "$node" "$rootfs$node"
exec chroot "$rootfs" env -i HOME=/root TMPDIR=/tmp PATH="$node/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  REPO="$repo" NODEDIR="$node" bash -c "$4"
'
in_root='
set -euo pipefail
cd "$REPO"
echo "trixie-test: $(. /etc/os-release; echo "$PRETTY_NAME"), Node $(node --version)" >&2
# 2. The binary built on Debian 12, against trixie'"'"'s Ceph, qemu-img and lvm2.
export IMAGEBACKEND_NO_GLANCE=1
node "$REPO/node_modules/vitest/vitest.mjs" run --project integration \
  --exclude "test/integration/glance-*.test.ts" --exclude test/integration/nova-parity.test.ts
# 3. A source build inside the root.
src=/tmp/imagebackend-src
mkdir -p "$src"
tar -cf - --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./.git . | tar -xf - -C "$src"
ln -s "$REPO/node_modules" "$src/node_modules"
cd "$src"
node "$REPO/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir="$NODEDIR" -j 2 >/tmp/node-gyp.log 2>&1 || { cat /tmp/node-gyp.log >&2; exit 1; }
built=$(node -p "require(\"node-gyp-build\").path(\".\")")
[[ $built == "$src/build/Release/imagebackend.node" ]] || { echo "trixie-test: loaded $built, not the source build" >&2; exit 1; }
node "$REPO/node_modules/vitest/vitest.mjs" run --project integration test/native test/integration/rbd-driver.test.ts
'
unshare --pid --fork --mount --propagation private -- bash -c "$inner" bash "$rootfs" "$repo" "$node22" "$in_root"
echo "trixie-test: ok in $((SECONDS - start)) s" >&2
