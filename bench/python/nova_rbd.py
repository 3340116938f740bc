#!/usr/bin/python3
"""nova's own RBDDriver, for the benchmark's single-operation RBD rows.

A long-running process: one JSON command per line on stdin, one JSON answer
per line on stdout. Each operation times itself (time.perf_counter around
nova's call only), so neither Python's start-up nor the pipe to Node is
counted against it.

Nothing nova does is re-implemented here: the nova rows call Debian's
python3-nova (nova.storage.rbd_utils.RBDDriver, nova 26.2.2, Zed) as
nova.virt.libvirt.imagebackend.Rbd calls it:
  * size: RBDDriver.size(name): a new cluster connection, the image opened
    read-only through nova's tpool proxy, size(), close, disconnect.
  * clone: RBDDriver.clone({'url': 'rbd://fsid/pool/image/snap'}, dest,
    dest_pool): two new connections (source and destination pool), the clone
    through nova's RbdProxy (tpool), the features of rbd_default_features.
  * clone_many: RBDDriver.clone for every name, as greenthreads at most
    WORKERS at once (the compute manager's max_concurrent_builds, default
    10), eventlet monkey-patched before nova is imported as in every nova
    service (nova/cmd/__init__.py): librbd work goes to eventlet's tpool
    threads, the connects (not proxied in nova) block the hub, as there.

Ops that are not nova, clearly named, kept because nova's code cannot show
them: size_persistent and clone_persistent use the rbd bindings directly on
one connection and ioctx per pool kept open for the life of the process, to
show how much of a gap is nova's per-call connection and how much is librbd.

Run with Debian's interpreter: /usr/bin/python3 nova_rbd.py --conf C --user U
"""

import nova.monkey_patch  # noqa: F401  (as nova-compute: before anything else)

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import eventlet  # noqa: E402
import rados  # noqa: E402
import rbd  # noqa: E402

from nova import conf as nova_conf  # noqa: E402
from nova.storage import rbd_utils  # noqa: E402

CONF = nova_conf.CONF


class Harness:
    def __init__(self, conf, user):
        CONF([], project='nova', default_config_files=[])
        CONF.set_override('images_rbd_ceph_conf', conf, group='libvirt')
        CONF.set_override('rbd_user', user, group='libvirt')
        self.conf = conf
        self.user = user
        self._drivers = {}
        self._persistent = {}
        self._fsid = None

    def driver(self, pool):
        """nova's RBDDriver for a pool (the object holds settings only; every call connects anew)."""
        if pool not in self._drivers:
            self._drivers[pool] = rbd_utils.RBDDriver(pool=pool, user=self.user, ceph_conf=self.conf)
        return self._drivers[pool]

    def location(self, pool, image, snapshot):
        # What the image service would return; get_fsid connects to the driver's pool (nova's default 'rbd' is absent here).
        if self._fsid is None:
            self._fsid = self.driver(pool).get_fsid()
        return {'url': 'rbd://%s/%s/%s/%s' % (self._fsid, pool, image, snapshot)}

    def size(self, pool, name):
        return self.driver(pool).size(name)

    def clone(self, src_pool, image, snapshot, dest_pool, dest_name):
        self.driver(dest_pool).clone(self.location(src_pool, image, snapshot), dest_name, dest_pool=dest_pool)

    def clone_many(self, src_pool, image, snapshot, dest_pool, names, workers):
        pool = eventlet.GreenPool(workers)
        # imap re-raises the first failure.
        for _ in pool.imap(lambda name: self.clone(src_pool, image, snapshot, dest_pool, name), names):
            pass

    # Not nova: one connection per pool kept open (for scale).
    def _open(self, pool):
        if pool not in self._persistent:
            client = rados.Rados(rados_id=self.user, conffile=self.conf)
            client.connect()
            self._persistent[pool] = (client, client.open_ioctx(pool))
        return self._persistent[pool]

    def size_persistent(self, pool, name):
        _client, ioctx = self._open(pool)
        with rbd.Image(ioctx, name, read_only=True) as volume:
            return volume.size()

    def clone_persistent(self, src_pool, image, snapshot, dest_pool, dest_name):
        src_client, src_ioctx = self._open(src_pool)
        _dest_client, dest_ioctx = self._open(dest_pool)
        features = int(src_client.conf_get('rbd_default_features') or 0) or rbd.RBD_FEATURE_LAYERING
        rbd.RBD().clone(src_ioctx, image, snapshot, dest_ioctx, dest_name, features=features)

    def close(self):
        for client, ioctx in self._persistent.values():
            ioctx.close()
            client.shutdown()
        self._persistent.clear()


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return (time.perf_counter() - t0) * 1000.0, result


def handle(h, cmd):
    op = cmd['op']
    if op in ('size', 'size_persistent'):
        return timed(getattr(h, op), cmd['pool'], cmd['image'])
    if op in ('clone', 'clone_persistent'):
        return timed(getattr(h, op), cmd['src_pool'], cmd['image'], cmd['snapshot'], cmd['dest_pool'], cmd['dest'])
    if op == 'clone_many':
        return timed(h.clone_many, cmd['src_pool'], cmd['image'], cmd['snapshot'], cmd['dest_pool'], cmd['names'],
                     cmd['workers'])
    if op == 'ping':
        return 0.0, 'pong'
    raise ValueError('unknown op %r' % op)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--conf', required=True)
    parser.add_argument('--user', required=True)
    args = parser.parse_args()
    h = Harness(args.conf, args.user)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                ms, result = handle(h, cmd)
                answer = {'id': cmd.get('id'), 'ok': True, 'ms': ms, 'result': result}
            except Exception as error:  # reported to Node, which fails the bench
                answer = {'id': cmd.get('id'), 'ok': False, 'error': '%s: %s' % (type(error).__name__, error)}
            sys.stdout.write(json.dumps(answer) + '\n')
            sys.stdout.flush()
    finally:
        h.close()


if __name__ == '__main__':
    main()
