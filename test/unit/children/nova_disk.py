# nova's own disk for one instance, for the parity test: runs Debian's
# python3-nova (nova.virt.libvirt.imagebackend) as nova-compute's spawn does
# (LibvirtDriver._create_and_inject_local_root: by_name, exists, cache with
# clone_fallback_to_fetch on rbd), then the disk's libvirt_info, and prints
# one JSON line: {"path", "xml" (LibvirtConfigGuestDisk.to_xml()),
# "disk_info" (the instance's disk.info text, or null)}.
#   nova_disk.py CONFIG_JSON
#   {"instances_path", "images_type", "use_cow_images", "preallocate_images",
#    "image_id", "size", "uuid", "source" (a raw file nova "downloads" when it
#    decides to fetch), "image_meta", "rbd": {"pool", "conf", "user",
#    "secret_uuid"}, "hw_disk_discard", "cache_mode", "bus", "dev",
#    "extra_specs"}
import json
import os
import shutil
import sys

from nova import conf as nova_conf
from nova import context as nova_context
from nova import exception
import nova.privsep
from nova.virt.libvirt import imagebackend
from nova.virt.libvirt import imagecache
from nova.virt.libvirt import utils as libvirt_utils

CONF = nova_conf.CONF
cfg = json.loads(sys.argv[1])
CONF([], project='nova', default_config_files=[])
CONF.set_override('instances_path', cfg['instances_path'])
CONF.set_override('use_cow_images', cfg.get('use_cow_images', True))
CONF.set_override('preallocate_images', cfg.get('preallocate_images', 'none'))
CONF.set_override('images_type', cfg['images_type'], group='libvirt')
CONF.set_override('lock_path', os.path.join(cfg['instances_path'], 'locks'), group='oslo_concurrency')
if cfg.get('hw_disk_discard'):
    CONF.set_override('hw_disk_discard', cfg['hw_disk_discard'], group='libvirt')
rbd = cfg.get('rbd')
if rbd:
    CONF.set_override('images_rbd_pool', rbd['pool'], group='libvirt')
    CONF.set_override('images_rbd_ceph_conf', rbd['conf'], group='libvirt')
    CONF.set_override('rbd_user', rbd['user'], group='libvirt')
    if rbd.get('secret_uuid'):
        CONF.set_override('rbd_secret_uuid', rbd['secret_uuid'], group='libvirt')
nova.privsep.sys_admin_pctxt.set_client_mode(False)


class ImageService:
    def get(self, context, image_id, include_locations=False, **kwargs):
        return dict(cfg.get('image_meta') or {'locations': [], 'disk_format': 'raw'})


imagebackend.IMAGE_API = ImageService()


def fetch_image(context, target, image_id, trusted_certs=None):
    shutil.copyfile(cfg['source'], target)


libvirt_utils.fetch_image = fetch_image


class Instance:
    def __init__(self, uuid):
        self.uuid = uuid
        self.trusted_certs = None


# LibvirtDriver._create_image makes the instance folder first.
os.makedirs(os.path.join(cfg['instances_path'], cfg['uuid']), exist_ok=True)
mapping = {'bus': cfg.get('bus', 'virtio'), 'dev': cfg.get('dev', 'vda'), 'type': 'disk'}
backend = imagebackend.Backend(CONF.use_cow_images).by_name(
    Instance(cfg['uuid']), 'disk', disk_info_mapping=mapping)
backend.exists()
if backend.SUPPORTS_CLONE:
    def fetch_func(context, target, image_id, trusted_certs=None):
        try:
            backend.clone(context, image_id)
        except exception.ImageUnacceptable:
            libvirt_utils.fetch_image(context, target, image_id, trusted_certs)
else:
    fetch_func = libvirt_utils.fetch_image
backend.cache(fetch_func=fetch_func, context=nova_context.get_admin_context(),
              filename=imagecache.get_cache_fname(cfg['image_id']),
              image_id=cfg['image_id'], size=cfg['size'], trusted_certs=None)
info = backend.libvirt_info(cfg.get('cache_mode', 'none'), cfg.get('extra_specs', {}))
disk_info_path = os.path.join(cfg['instances_path'], cfg['uuid'], 'disk.info')
disk_info = open(disk_info_path).read() if os.path.exists(disk_info_path) else None
print(json.dumps({'path': backend.path, 'xml': info.to_xml(), 'disk_info': disk_info}), flush=True)
