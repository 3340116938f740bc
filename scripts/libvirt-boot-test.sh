#!/usr/bin/env bash
# The library's disks given to a real hypervisor: starts a throwaway Ceph
# cluster (scripts/ceph-cluster.sh) and a libvirtd of its own, provisions
# disks through the public API (dist/), and boots guests from them under qemu
# (TCG) with Debian's kernel and a busybox initramfs
# (scripts/libvirt-boot/boot-test.mjs says what is checked: marker bytes,
# sizes, a sector the guest writes read back on the host, the base unchanged,
# blkdeviotune, the option matrix against libvirt and qemu, and the refusals).
#
# libvirtd runs as root in a private mount namespace whose /etc, /var and
# /run are overlays on a temporary folder (so the libvirt-qemu user it needs
# can be created there, in group kvm, without touching the host's /etc), and
# whose libvirt folders (/etc/libvirt, /var/lib/libvirt, /var/cache/libvirt,
# /var/log/libvirt, /run/libvirt) are empty folders of its own: its config,
# state, logs and capabilities cache never touch the host, and a system
# libvirt's config, hooks and domains are never seen. The client socket is
# in the temporary folder too. Everything is removed when the script ends,
# however it ends (trap): domains destroyed, libvirtd and any qemu it left
# stopped by pid, the cluster stopped, the folder removed.
#
# Needs (scripts/setup.sh installs them): libvirt-daemon,
# libvirt-daemon-driver-qemu, libvirt-clients, qemu-system-x86, qemu-utils,
# busybox-static, cpio, the Ceph packages, apt-get download access to
# linux-image-amd64 (cached in ${IMAGEBACKEND_CACHE:-~/.cache/imagebackend}),
# the addon built and npm dependencies installed. Run as root.
# Time limit: LIBVIRT_BOOT_TIMEOUT seconds for the test itself (default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { echo "libvirt-boot-test: $*" >&2; }
fail() {
  log "$*"
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "run as root: libvirtd runs privileged, in its own mount namespace"
for tool in libvirtd virsh qemu-system-x86_64 qemu-img unshare useradd groupadd losetup timeout node npx; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh (libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils)"
done
[[ -f build/Release/imagebackend.node ]] || fail "the addon is not built: npx node-gyp rebuild (or npm ci)"
[[ -d node_modules ]] || fail "npm dependencies are missing: npm ci"
grep -qw overlay /proc/filesystems || fail "the kernel has no overlay file system (libvirtd's private /etc, /var and /run)"

# shellcheck source=lib/initramfs.sh
source scripts/lib/initramfs.sh
initramfs_kernel || fail "no kernel"

started=$(date +%s)
# libvirt-qemu (qemu's user) must reach every file the guest uses: the folder is world-readable.
work=$(mktemp -d /tmp/imagebackend-libvirt-XXXXXX)
chmod 755 "$work"
ceph_dir=$work/ceph
libvirtd_pid=
# Our libvirtd's socket, always named: a bare virsh would reach the system's libvirt.
export LIBVIRT_DEFAULT_URI="qemu:///system?socket=$work/sock/libvirt-sock"

cleanup() {
  local status=$? pid n
  set +e
  if [[ -S $work/sock/libvirt-sock ]]; then
    for dom in $(timeout 20 virsh -c "$LIBVIRT_DEFAULT_URI" list --all --name 2>/dev/null); do
      timeout 20 virsh -c "$LIBVIRT_DEFAULT_URI" destroy "$dom" >/dev/null 2>&1
      timeout 20 virsh -c "$LIBVIRT_DEFAULT_URI" undefine "$dom" >/dev/null 2>&1
    done
  fi
  if [[ -n $libvirtd_pid ]] && kill -0 "$libvirtd_pid" 2>/dev/null; then
    kill -TERM "$libvirtd_pid"
    n=0
    while ((n++ < 100)) && kill -0 "$libvirtd_pid" 2>/dev/null; do sleep 0.1; done
    kill -KILL "$libvirtd_pid" 2>/dev/null
  fi
  # A qemu libvirtd did not reap (libvirtd killed): its pid file names it.
  for f in "$work"/state/run/libvirt/qemu/*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == qemu-system-x86* ]] && kill -KILL "$pid"
  done
  # The matrix's stand-in for an LVM volume, if the test died holding it.
  for dev in $(losetup -j "$work/block.img" -O NAME -n 2>/dev/null); do losetup -d "$dev"; done
  [[ -d $ceph_dir ]] && scripts/ceph-cluster.sh stop "$ceph_dir" >/dev/null 2>&1
  if ((status != 0)) && [[ -f $work/libvirtd.log ]]; then
    log "libvirtd log (last lines):"
    tail -n 20 "$work/libvirtd.log" >&2
  fi
  rm -rf "$work"
  ((status == 0)) || log "FAIL after $(($(date +%s) - started)) s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The library as a user gets it.
npx tsc -p tsconfig.build.json

# The guest: virtio-blk and the serial console are all it needs.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk)
initramfs_tree "$work/initramfs" "${modules[@]}" || fail "initramfs"
printf '%s\n' "${modules[@]}" >"$work/initramfs/modules/order"
cp scripts/libvirt-boot/guest-init.sh "$work/initramfs/init"
chmod 755 "$work/initramfs/init"
initramfs_pack "$work/initramfs" "$work/initrd.gz"
# Out of root's home (mode 700), where libvirt-qemu could not read it.
cp "$KERNEL" "$work/vmlinuz"
chmod 644 "$work/vmlinuz" "$work/initrd.gz"

log "starting a Ceph cluster ..."
scripts/ceph-cluster.sh start "$ceph_dir" >"$work/ceph.env"
set -a
# shellcheck source=/dev/null
source "$work/ceph.env"
set +a

log "starting libvirtd in its own mount namespace ..."
mkdir -p "$work"/ns/{etc,var,run}/{up,wk} "$work/sock" "$work/state"
cat >"$work/libvirtd.conf" <<EOF
unix_sock_dir = "$work/sock"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$work/libvirtd.log"
EOF
# Runs inside the namespace. stdio_handler "file": qemu's output goes to a
# file rather than through virtlogd (not running). No cgroup controllers:
# nothing for a failed run to leave under /sys/fs/cgroup.
cat >"$work/libvirtd-ns.sh" <<EOF
set -e
for d in etc var run; do
  mount -t overlay overlay -o "lowerdir=/\$d,upperdir=$work/ns/\$d/up,workdir=$work/ns/\$d/wk" "/\$d"
done
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
# libvirt's own folders: empty ones of ours, so that a system libvirt's
# config, hooks, domains and status files (visible through the overlays'
# lower layers) are never read, adopted or touched.
for d in etc/libvirt var/lib/libvirt var/cache/libvirt var/log/libvirt run/libvirt; do
  mkdir -p "/\$d" "$work/state/\$d"
  mount --bind "$work/state/\$d" "/\$d"
done
cat >/etc/libvirt/qemu.conf <<'CONF'
stdio_handler = "file"
cgroup_controllers = [ ]
CONF
exec libvirtd -f "$work/libvirtd.conf" -p "$work/libvirtd.pid"
EOF
unshare --mount --propagation private bash "$work/libvirtd-ns.sh" >"$work/libvirtd.out" 2>&1 &
libvirtd_pid=$!
# The first connection waits for the qemu capabilities probe (8-9 s here).
for ((n = 0; n < 600; n++)); do
  kill -0 "$libvirtd_pid" 2>/dev/null || fail "libvirtd exited: $(cat "$work/libvirtd.out")"
  [[ -S $work/sock/libvirt-sock ]] && break
  sleep 0.1
done
timeout 120 virsh version >/dev/null || fail "libvirtd does not answer"
log "libvirtd ready ($(($(date +%s) - started)) s since start)"

export IBT_WORK=$work IBT_KERNEL=$work/vmlinuz IBT_INITRD=$work/initrd.gz IBT_ROOT=$root
timeout "${LIBVIRT_BOOT_TIMEOUT:-600}" node scripts/libvirt-boot/boot-test.mjs
log "PASS in $(($(date +%s) - started)) s (guest kernel $KVER)"
