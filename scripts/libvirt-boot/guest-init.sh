#!/bin/busybox sh
# /init of the libvirt boot test's guest (scripts/libvirt-boot-test.sh): a
# busybox initramfs on Debian's kernel, booted by libvirt under qemu (TCG).
# For every disk it sees it prints, on the serial console, its size and the
# bytes at offset 0 and at ibt.deep, then writes one sector at ibt.write
# ("GUEST-WROTE:<dev>:<bytes>:<ibt.nonce>", zero-padded) and flushes it.
# The host reads that sector back from the disk's file or RBD image after the
# guest has stopped. The guest then idles until the host destroys it (the
# host checks the live throttling with virsh blkdeviotune meanwhile).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod "/modules/$m.ko" || echo "IBT insmod $m failed"; done

deep=0 write=0 nonce=none
for arg in $(cat /proc/cmdline); do
  case $arg in
    ibt.deep=*) deep=${arg#ibt.deep=} ;;
    ibt.write=*) write=${arg#ibt.write=} ;;
    ibt.nonce=*) nonce=${arg#ibt.nonce=} ;;
  esac
done

# virtio-blk probes as the module loads; give the device nodes a moment.
n=0
while [ ! -e /sys/block/vda ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done

echo "IBT BEGIN"
for b in /sys/block/vd* /sys/block/sd*; do
  [ -e "$b" ] || continue
  dev=${b##*/}
  bytes=$(($(cat "$b/size") * 512))
  start=$(hexdump -v -n 48 -e '48/1 "%02x"' "/dev/$dev")
  deepbytes=$(hexdump -v -s "$deep" -n 48 -e '48/1 "%02x"' "/dev/$dev")
  printf 'GUEST-WROTE:%s:%s:%s' "$dev" "$bytes" "$nonce" |
    dd of="/dev/$dev" bs=512 seek=$((write / 512)) count=1 conv=sync,notrunc,fsync 2>/dev/null
  echo "IBT DISK dev=$dev bytes=$bytes start=$start deep=$deepbytes wrote=$?"
done
sync
echo "IBT DONE"
# Idle until destroyed; power off on our own if the host never comes.
sleep 600
echo o >/proc/sysrq-trigger
