#!/usr/bin/python3
"""nova itself provisioning instance disks, for the benchmark's nova rows.

Runs Debian's python3-nova (nova 26.2.2, Zed): nothing here re-implements
nova. One process provisions COUNT root disks from one image, the way
nova-compute's spawn does for each instance
(LibvirtDriver._create_and_inject_local_root, no injection):

    backend = imagebackend.Backend(CONF.use_cow_images).by_name(inst, 'disk')
    backend.exists()
    fetch_func = clone_fallback_to_fetch (rbd) or libvirt_utils.fetch_image
    backend.cache(fetch_func=..., context=..., filename=<sha1 of image id>,
                  image_id=..., size=flavor root size, trusted_certs=None)

and prints one JSON line {"ms": time for the COUNT disks, "disks": COUNT}.
Python's start-up and nova's import are outside "ms".

As in nova-compute:
  * eventlet is monkey-patched before nova is imported (nova/cmd/__init__.py
    imports nova.monkey_patch); builds run as greenthreads, at most WORKERS
    at once (the compute manager's max_concurrent_builds semaphore; default
    10). qemu-img and prlimit run through eventlet's green subprocess, librbd
    calls through nova's tpool proxies (connects block the hub, as there).
  * oslo.config is set in-process: instances_path, use_cow_images,
    [libvirt] images_type and the rbd options, [oslo_concurrency] lock_path;
    every other option keeps nova's default.
  * privileged helpers (privsep) run in this process, as nova's unit tests
    run them (PrivContext.set_client_mode(False)) instead of through a
    privsep daemon.
  * the image service is a stand-in object answering get() with the image's
    metadata and locations; Glance's HTTP round trip is not counted. nova's
    own code decides whether to clone (Rbd.clone: is_cloneable, then
    RBDDriver.clone). fetch_image is replaced by a local copy of SOURCE, used
    only when nova decides to download (the rbd import fallback).

usage: provision.py CONFIG_JSON
  {"instances_path", "images_type": "qcow2"|"raw"|"rbd", "use_cow_images",
   "image_id", "size", "count", "prefix", "workers", "source",
   "image_meta": {... "locations": [{"url": ...}]},
   "rbd": {"pool", "conf", "user"}}
"""

import json
import os
import shutil
import sys
import time

import nova.monkey_patch  # noqa: F401  (as nova-compute: before anything else)

import eventlet  # noqa: E402
from oslo_utils import fileutils  # noqa: E402

from nova import conf as nova_conf  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import exception  # noqa: E402
import nova.privsep  # noqa: E402
from nova.virt.libvirt import imagebackend  # noqa: E402
from nova.virt.libvirt import imagecache  # noqa: E402
from nova.virt.libvirt import utils as libvirt_utils  # noqa: E402

CONF = nova_conf.CONF


class Instance:
    """What imagebackend reads of an instance: its uuid."""

    def __init__(self, uuid):
        self.uuid = uuid
        self.trusted_certs = None


class ImageService:
    """Stands in for nova.image.glance.API: get() answers the image's metadata."""

    def __init__(self, meta):
        self.meta = meta

    def get(self, context, image_id, include_locations=False, **kwargs):
        return dict(self.meta)


def configure(cfg):
    CONF([], project='nova', default_config_files=[])
    CONF.set_override('instances_path', cfg['instances_path'])
    CONF.set_override('use_cow_images', cfg.get('use_cow_images', True))
    CONF.set_override('images_type', cfg['images_type'], group='libvirt')
    CONF.set_override('lock_path', os.path.join(cfg['instances_path'], 'locks'), group='oslo_concurrency')
    rbd = cfg.get('rbd')
    if rbd:
        CONF.set_override('images_rbd_pool', rbd['pool'], group='libvirt')
        CONF.set_override('images_rbd_ceph_conf', rbd['conf'], group='libvirt')
        CONF.set_override('rbd_user', rbd['user'], group='libvirt')
    nova.privsep.sys_admin_pctxt.set_client_mode(False)
    imagebackend.IMAGE_API = ImageService(cfg.get('image_meta') or {'locations': [], 'disk_format': 'raw'})
    source = cfg.get('source')

    def fetch_image(context, target, image_id, trusted_certs=None):
        # nova downloads from Glance here (images.fetch_to_raw); the bench
        # copies a local raw file instead. Called only when nova decides to.
        shutil.copyfile(source, target + '.part')
        os.rename(target + '.part', target)

    libvirt_utils.fetch_image = fetch_image


def create_root_disk(backends, context, cfg, uuid):
    """LibvirtDriver._create_and_inject_local_root for one instance."""
    instance = Instance(uuid)
    # LibvirtDriver._create_image makes the instance folder first.
    fileutils.ensure_tree(libvirt_utils.get_instance_path(instance))
    image_id = cfg['image_id']
    root_fname = imagecache.get_cache_fname(image_id)
    backend = backends.by_name(instance, 'disk')
    backend.exists()
    if backend.SUPPORTS_CLONE:
        def clone_fallback_to_fetch(context, target, image_id, trusted_certs=None):
            try:
                backend.clone(context, image_id)
            except exception.ImageUnacceptable:
                libvirt_utils.fetch_image(context, target, image_id, trusted_certs)
        fetch_func = clone_fallback_to_fetch
    else:
        fetch_func = libvirt_utils.fetch_image
    backend.cache(fetch_func=fetch_func, context=context, filename=root_fname,
                  image_id=image_id, size=cfg['size'], trusted_certs=None)


def main():
    cfg = json.loads(sys.argv[1])
    configure(cfg)
    backends = imagebackend.Backend(CONF.use_cow_images)
    context = nova_context.get_admin_context()
    workers = int(cfg.get('workers', 1))
    names = ['%s-%d' % (cfg['prefix'], j) for j in range(int(cfg['count']))]
    pool = eventlet.GreenPool(workers)
    t0 = time.perf_counter()
    # imap re-raises the first failure.
    for _ in pool.imap(lambda uuid: create_root_disk(backends, context, cfg, uuid), names):
        pass
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({'ms': ms, 'disks': len(names)}), flush=True)


if __name__ == '__main__':
    main()
