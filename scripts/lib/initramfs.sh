# shellcheck shell=bash
# Shared by scripts/lvm-vm-test.sh and scripts/libvirt-boot-test.sh: Debian's
# generic kernel (unpacked with dpkg -x into a cache, never installed) and a
# small initramfs holding the static busybox and the modules a guest needs.
# Source this file, then:
#
#   initramfs_kernel                 sets KERNEL (vmlinuz path), KVER, MODDIR, IMAGE_PKG
#   initramfs_tree DIR MODULE...     DIR/bin/busybox, DIR/modules/MODULE.ko, empty mount points
#   initramfs_pack DIR OUT           DIR as a gzip'd newc cpio archive in OUT
#
# The guest's /init (written by the caller into DIR/init) loads the modules
# with `insmod /modules/NAME.ko` in the order given: there is no modprobe
# and no dependency resolution, so list dependencies first.
# Needs: busybox-static cpio gzip, apt-get download access to linux-image-amd64.
# The kernel is cached in ${IMAGEBACKEND_CACHE:-~/.cache/imagebackend}/kernel.

initramfs_fail() {
  echo "initramfs: $*" >&2
  return 1
}

initramfs_check_tools() {
  local tool
  for tool in cpio gzip apt-get apt-cache dpkg; do
    command -v "$tool" >/dev/null || { initramfs_fail "$tool is missing: run scripts/setup.sh"; return 1; }
  done
  # A dynamically linked busybox would need the host's libc inside the initramfs.
  { [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; } ||
    { initramfs_fail "/bin/busybox is not the static busybox: apt-get install busybox-static"; return 1; }
}

# The metapackage names the image package; it is downloaded and unpacked once.
initramfs_kernel() {
  initramfs_check_tools || return 1
  local cache=${IMAGEBACKEND_CACHE:-${HOME:-/root}/.cache/imagebackend}/kernel
  local depends='/Depends: linux-image-[0-9]/ {print $2; exit}'
  IMAGE_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk "$depends")
  if [[ -z $IMAGE_PKG ]]; then
    apt-get update -q >/dev/null || { initramfs_fail "apt-get update failed"; return 1; }
    IMAGE_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk "$depends")
  fi
  [[ -n $IMAGE_PKG ]] || { initramfs_fail "apt-cache does not know linux-image-amd64 (Debian main missing from the apt sources?)"; return 1; }
  local kdir=$cache/$IMAGE_PKG
  if [[ ! -f $kdir/done ]]; then
    rm -rf "$kdir" && mkdir -p "$kdir/deb"
    (cd "$kdir/deb" && apt-get download -q -o APT::Sandbox::User=root "$IMAGE_PKG" >/dev/null) ||
      { initramfs_fail "apt-get download $IMAGE_PKG failed"; return 1; }
    dpkg -x "$kdir"/deb/*.deb "$kdir/root"
    rm -rf "$kdir/deb"
    touch "$kdir/done"
  fi
  KERNEL=$(ls "$kdir"/root/boot/vmlinuz-*)
  KVER=${KERNEL##*/vmlinuz-}
  MODDIR=$kdir/root/lib/modules/$KVER
}

initramfs_tree() {
  local dir=$1 m f
  shift
  mkdir -p "$dir"/{bin,modules,proc,sys,dev}
  cp /bin/busybox "$dir/bin/busybox"
  for m in "$@"; do
    f=$(find "$MODDIR/kernel" -name "$m.ko" -print -quit)
    [[ -n $f ]] || { initramfs_fail "module $m.ko not found in $IMAGE_PKG"; return 1; }
    cp "$f" "$dir/modules/"
  done
}

initramfs_pack() {
  (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}
