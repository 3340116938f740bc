# nova's resolve_driver_format on a raw disk (Debian's python3-nova: a Flat
# image of an existing file writes its disk.info on construction), with
# oslo.concurrency's lock functions watched, and prints one JSON line:
# {"disk_info" (the file's text), "internal" (names given to lockutils'
# in-process lock), "external" (names given to its file lock),
# "lock_files" (what lock_path holds afterwards)}.
#   nova_disk_info_lock.py INSTANCES_PATH DISK_PATH
import json
import os
import sys

from oslo_concurrency import lockutils

from nova import conf as nova_conf
import nova.privsep
from nova.virt.libvirt import imagebackend

instances_path, disk_path = sys.argv[1:3]
CONF = nova_conf.CONF
CONF([], project='nova', default_config_files=[])
CONF.set_override('instances_path', instances_path)
lock_path = os.path.join(instances_path, 'locks')
CONF.set_override('lock_path', lock_path, group='oslo_concurrency')
nova.privsep.sys_admin_pctxt.set_client_mode(False)

internal, external = [], []
real_internal, real_external = lockutils.internal_lock, lockutils.external_lock


def watched_internal(name, *args, **kwargs):
    internal.append(name)
    return real_internal(name, *args, **kwargs)


def watched_external(name, *args, **kwargs):
    external.append(name)
    return real_external(name, *args, **kwargs)


lockutils.internal_lock = watched_internal
lockutils.external_lock = watched_external

imagebackend.Flat(path=disk_path)
with open(os.path.join(os.path.dirname(disk_path), 'disk.info')) as f:
    disk_info = f.read()
print(json.dumps({
    'disk_info': disk_info,
    'internal': internal,
    'external': external,
    'lock_files': sorted(os.listdir(lock_path)) if os.path.isdir(lock_path) else [],
}))
