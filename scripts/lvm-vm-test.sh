#!/usr/bin/env bash
# The full LVM path with device-mapper, on a machine whose kernel has none:
# boots Debian's generic kernel under qemu (software emulation) with a
# busybox initramfs that loads virtio, 9p, device-mapper and loop, shares this
# machine's root read-only over 9p, chroots into it and runs
# scripts/lvm-vm-guest.mjs with the built library: VG on a loop device,
# volumes created, bases written, file systems grown, wiped and removed,
# over both lvm2 runners; then the Lvm image backend through the public API
# (Backend.image().cache(), libvirtInfo, snapshotExtract, delete) for both
# runners, dense and sparse, and `imagebackend provision --backend lvm`
# (about 4 minutes on 2 cores). Results come back through a second, writable 9p
# share. Exits 0 when the guest reports PASS, 1 otherwise.
#
# Needs: qemu-system-x86 busybox-static cpio (scripts/setup.sh installs them),
# apt-get download access to Debian's linux-image-amd64, the addon built and
# npm dependencies installed. The kernel is cached in
# ${IMAGEBACKEND_CACHE:-~/.cache/imagebackend}. Time limit: LVM_VM_TIMEOUT s (600).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fail() { echo "lvm-vm-test: $*" >&2; exit 1; }

# shellcheck source=lib/initramfs.sh
source scripts/lib/initramfs.sh
for tool in qemu-system-x86_64 timeout; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh (qemu-system-x86)"
done
[[ -f build/Release/imagebackend.node ]] || fail "the addon is not built: npx node-gyp rebuild (or npm ci)"
[[ -d node_modules ]] || fail "npm dependencies are missing: npm ci"
[[ $(id -u) -eq 0 ]] || fail "run as root: the guest reads the host's root through 9p with the qemu process's rights"

# The library as the guest will load it.
npx tsc -p tsconfig.build.json

initramfs_kernel || fail "no kernel"
kernel=$KERNEL
kver=$KVER
image_pkg=$IMAGE_PKG

work=$(mktemp -d /tmp/imagebackend-lvmvm-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/initramfs"/{host,results} "$work/results"
# dm-bufio, dm-snapshot and dm-zero: sparse volumes are snapshots of the zero target.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p dm-mod dm-bufio dm-snapshot dm-zero loop)
initramfs_tree "$work/initramfs" "${modules[@]}" || fail "initramfs"

# The guest's init: modules, the host's root read-only, tmpfs where the
# chroot needs to write, the results share, then the guest script. Its exit
# status is written to the results share; the kernel then powers off.
cat >"$work/initramfs/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${modules[*]}; do insmod /modules/\$m.ko || echo "insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host || echo 'mount host failed'
mount -t 9p -o trans=virtio,version=9p2000.L,rw results /results || echo 'mount results failed'
for d in proc sys dev; do mount --bind /\$d /host/\$d; done
mount -t tmpfs tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run
mkdir -p /host/tmp/results /host/run/lock
mount --bind /results /host/tmp/results
# The project itself, shared on its own: a checkout under /tmp or /run would
# otherwise be hidden by the tmpfs mounts above.
mkdir -p "/host$root"
mount -t 9p -o trans=virtio,version=9p2000.L,ro project "/host$root" || echo 'mount project failed'

# lvm2 without udev, on a read-only /etc: its own config, no backups.
mkdir -p /host/tmp/lvm
cat >/host/tmp/lvm/lvm.conf <<'CONF'
activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 1 monitoring = 0 }
devices { obtain_device_list_from_udev = 0 }
backup { backup = 0 archive = 0 }
global { use_lvmpolld = 0 }
CONF
chroot /host /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp \
  LVM_SYSTEM_DIR=/tmp/lvm LVM_SUPPRESS_FD_WARNINGS=1 \
  node "$root/scripts/lvm-vm-guest.mjs" /tmp/results
echo "\$?" >/results/status
sync
echo o >/proc/sysrq-trigger
sleep 5
EOF
chmod +x "$work/initramfs/init"
initramfs_pack "$work/initramfs" "$work/initrd.gz"

echo "lvm-vm-test: booting $image_pkg under qemu (TCG) ..." >&2
started=$(date +%s)
set +e
timeout "${LVM_VM_TIMEOUT:-600}" qemu-system-x86_64 -machine accel=tcg -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append 'console=ttyS0 panic=-1 rdinit=/init quiet loglevel=3' \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$work/results,mount_tag=results,security_model=none" \
  -virtfs "local,path=$root,mount_tag=project,security_model=none,readonly=on,multidevs=remap" \
  </dev/null >"$work/console.log" 2>&1
qemu_status=$?
set -e
elapsed=$(($(date +%s) - started))

status=$(cat "$work/results/status" 2>/dev/null || echo none)
if [[ -f $work/results/report.txt ]]; then cat "$work/results/report.txt"; fi
if [[ $status == 0 ]]; then
  echo "lvm-vm-test: PASS in ${elapsed}s (guest kernel $kver, device-mapper path)" >&2
  exit 0
fi
echo "lvm-vm-test: FAIL (guest status $status, qemu status $qemu_status, ${elapsed}s); guest console:" >&2
tail -n 80 "$work/console.log" >&2
exit 1
