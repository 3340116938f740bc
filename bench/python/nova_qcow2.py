#!/usr/bin/python3
"""Nova's qcow2 instance-disk provisioning, for the benchmark's comparison.

One process provisions N disks on one cached base, one after the other, as
nova's compute manager does per instance (each spawn runs its own
Qcow2.create_image + Image.cache; nothing batches them), and prints one JSON
line: {"ms": wall time of the N disks, "disks": N}. Python's own start-up is
outside "ms"; the caller measures it around the process.

Per disk, what nova runs (nova/virt/libvirt/imagebackend.py, Qcow2 and
Image.cache; nova/virt/libvirt/utils.py; nova/virt/images.py):
  * the base is already in the cache (prepare_template finds it; fetched once
    by the caller before timing);
  * verify_base_size -> get_disk_size(base) -> images.qemu_img_info(base):
    `qemu-img info --output=json BASE` under nova's prlimit (--as=1 GiB,
    --cpu=30 via `python3 -m oslo_concurrency.prlimit`; here `prlimit` from
    util-linux with the same limits when present);
  * create_qcow2_image, under the external lock named after the base file
    (oslo lockutils: a thread lock plus a lockf file lock) ->
    create_cow_image(base, disk, size): qemu_img_info(base) again, then
    `qemu-img create -f qcow2 -o backing_file=BASE,backing_fmt=raw DISK SIZE`;
  * the instance's disk.info is rewritten: read the JSON, add the disk's
    format, write it to a temp file and rename (nova's DiskInfo/
    write_to_disk_info_file under a lock file, simplified to fcntl.lockf).

Builds run one at a time (WORKERS=1) or as nova-compute runs them, up to
max_concurrent_builds (default 10) at once, here in threads (nova's
greenthreads run qemu-img through eventlet's green subprocess).

usage: nova_qcow2.py BASE INSTANCES_DIR PREFIX COUNT SIZE [WORKERS]
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from nova_lock import external_lock

PRLIMIT = shutil.which('prlimit')
QEMU_IMG_LIMITS = ['--as=1073741824', '--cpu=30']


def execute(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def qemu_img_info(path):
    cmd = ['qemu-img', 'info', '--output=json', '-f', 'raw', path]
    if PRLIMIT:
        cmd = [PRLIMIT, *QEMU_IMG_LIMITS, '--', *cmd]
    return json.loads(execute(*cmd))


def get_disk_size(path):
    return qemu_img_info(path)['virtual-size']


def create_cow_image(backing_file, path, size):
    base_details = qemu_img_info(backing_file)
    opts = ['backing_file=%s' % backing_file, 'backing_fmt=%s' % base_details['format']]
    execute('qemu-img', 'create', '-f', 'qcow2', '-o', ','.join(opts), path, str(size))


def write_disk_info(instance_dir, path, fmt):
    info_path = os.path.join(instance_dir, 'disk.info')
    lock_path = info_path + '.lock'
    with open(lock_path, 'a') as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            with open(info_path) as f:
                info = json.load(f)
        except (OSError, ValueError):
            info = {}
        info[path] = fmt
        tmp = info_path + '.tmp'
        with open(tmp, 'w') as f:
            f.write(json.dumps(info))
        os.rename(tmp, info_path)


def provision(base, instances, uuid, size):
    instance_dir = os.path.join(instances, uuid)
    os.makedirs(instance_dir, exist_ok=True)
    disk = os.path.join(instance_dir, 'disk')
    if not os.path.exists(base):
        raise RuntimeError('base not cached: %s' % base)
    if size and size < get_disk_size(base):  # verify_base_size
        raise RuntimeError('flavor disk smaller than the image')
    if not os.path.exists(disk):
        # nova's lock_path is <instances>/locks; a folder of its own here, so
        # its lock files never meet the library's lock directories there.
        lock_path = os.path.join(instances, 'python-locks')
        os.makedirs(lock_path, exist_ok=True)
        with external_lock(lock_path, os.path.basename(base)):  # create_qcow2_image
            create_cow_image(base, disk, size)
    write_disk_info(instance_dir, disk, 'qcow2')


def main():
    base, instances, prefix, count, size = sys.argv[1:6]
    workers = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first failure.
        list(pool.map(lambda j: provision(base, instances, '%s-%d' % (prefix, j), int(size)), range(int(count))))
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({'ms': ms, 'disks': int(count)}))


if __name__ == '__main__':
    main()
