#!/usr/bin/env bash
# Installs everything the project and its tests need on Debian 12, then
# installs the npm dependencies and builds the addon and the TypeScript.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build of the addon
  build-essential python3 pkg-config librbd-dev librados-dev liblvm2-dev
  # the real tools the tests and benchmarks run against
  ceph-mon ceph-osd ceph-mgr ceph-common python3-rbd
  qemu-utils lvm2 util-linux e2fsprogs
  # qemu's rbd: protocol (the bench's qemu-img convert ... rbd: comparison)
  qemu-block-extra
  # fuzzing and sanitizer builds of the native parser
  clang libclang-rt-14-dev cmake
  # npm run format:native:check (CONTRIBUTING.md's C++ style)
  clang-format
  # scripts/trixie-test.sh: the Debian 13 root, built from Debian's packages
  mmdebstrap
  # npm run test:leak (memcheck over a loop of native calls)
  valgrind
  # libvirt's schema validator for the disk XML (a shell script that runs
  # xmllint, which libvirt-clients does not pull in)
  libvirt-clients libxml2-utils
  # scripts/lvm-vm-test.sh: Debian's kernel (fetched with apt-get download)
  # booted under qemu with a busybox initramfs, for the device-mapper path
  qemu-system-x86 busybox-static cpio
  # scripts/libvirt-boot-test.sh: a libvirtd of its own (started by hand in a
  # private mount namespace, never the system service) boots guests from the
  # library's disks under qemu; virsh comes with libvirt-clients
  libvirt-daemon libvirt-daemon-driver-qemu
  # the inspector's hybrid-ISO test (test/unit/image/formats.test.ts): a
  # bootable ISO 9660 + GPT/MBR like distribution installers
  xorriso
  # sgdisk writes the GPT disks of the nova format_inspector comparison
  # (test/unit/image/nova-inspector.test.ts)
  gdisk
  # nova itself (Debian's 26.2.2, Zed): the lock interoperability tests take
  # nova.utils.synchronized locks against the library's, the nova parity test
  # and the benchmark's nova rows run nova.virt.libvirt.imagebackend (and
  # the image cache manager's get_disk_usage, test/unit/cache-manager.test.ts)
  python3-nova
  # scripts/glance-fixture.sh: a real Glance v2 API (file and rbd stores) for
  # the image pipeline's integration tests and benchmarks
  glance-api
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "setup: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
else
  echo "setup: system packages present" >&2
fi

# Node.js 22 and 24 beside Debian's 20, from the npm registry (pinned in
# scripts/node-versions.sh): CI runs the suite under each.
bash scripts/install-node.sh

# npm ci runs the install script (node-gyp-build compiles the addon) and
# prepare (tsc to dist/).
npm ci --no-audit --no-fund
