#!/usr/bin/python3
"""Nova's RBD calls, for the benchmark's Python comparison.

A long-running process: one JSON command per line on stdin, one JSON answer
per line on stdout. Each operation times itself (time.perf_counter around the
nova-equivalent code only), so neither Python's start-up nor the pipe to Node
is counted against it.

What it mirrors (nova/virt/libvirt/storage/rbd_utils.py, RBDDriver):
  * _connect_to_rados: rados.Rados(rados_id=user, conffile=conf),
    connect(timeout=...), open_ioctx(pool); on error shutdown().
  * _disconnect_from_rados: ioctx.close(), client.shutdown().
  * size(): RBDVolumeProxy(read_only=True) -> a new connection, rbd.Image,
    .size(), image close, disconnect.
  * clone(): RADOSClient for the source pool and another for the destination
    pool (two connections), features = rbd_default_features from the conf
    (layering when 0), rbd.RBD().clone(...), disconnect both.

Concurrency (clone_many): nova runs rbd calls through eventlet's tpool, a pool
of native threads (EVENTLET_THREADPOOL_SIZE, default 20). We use a
ThreadPoolExecutor of the same size with the whole per-call sequence, connect
included, inside each thread. That is generous to nova: there, connect and
open_ioctx are not proxied and block the eventlet hub.

Provisioning is not here: the provisioning rows run nova itself
(bench/nova/provision.py). These single-operation rows keep the bindings
because they time one RBDDriver call's librbd work, which nova's code runs
the same way (a new connection per call).

Ops beyond nova (clearly named): size_persistent and clone_persistent keep
one connection and ioctx per pool open for the life of the process, to show
how much of the gap is the connection and how much is librbd itself.

Run with Debian's interpreter: /usr/bin/python3 nova_rbd.py --conf C --user U
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import rados
import rbd


class NovaRBDDriver:
    def __init__(self, conf, user, connect_timeout):
        self.ceph_conf = conf
        self.rbd_user = user
        self.rbd_connect_timeout = connect_timeout
        self._persistent = {}

    def _connect_to_rados(self, pool):
        client = rados.Rados(rados_id=self.rbd_user, conffile=self.ceph_conf)
        try:
            client.connect(timeout=self.rbd_connect_timeout)
            ioctx = client.open_ioctx(pool)
            return client, ioctx
        except rados.Error:
            client.shutdown()
            raise

    @staticmethod
    def _disconnect_from_rados(client, ioctx):
        ioctx.close()
        client.shutdown()

    @staticmethod
    def _features(client):
        features = client.conf_get('rbd_default_features')
        if features is None or int(features) == 0:
            features = rbd.RBD_FEATURE_LAYERING
        return int(features)

    def size(self, pool, name):
        client, ioctx = self._connect_to_rados(pool)
        try:
            volume = rbd.Image(ioctx, name, read_only=True)
            try:
                return volume.size()
            finally:
                volume.close()
        finally:
            self._disconnect_from_rados(client, ioctx)

    def clone(self, src_pool, image, snapshot, dest_pool, dest_name):
        src_client, src_ioctx = self._connect_to_rados(src_pool)
        try:
            dest_client, dest_ioctx = self._connect_to_rados(dest_pool)
            try:
                rbd.RBD().clone(src_ioctx, image, snapshot, dest_ioctx, dest_name,
                                features=self._features(src_client))
            finally:
                self._disconnect_from_rados(dest_client, dest_ioctx)
        finally:
            self._disconnect_from_rados(src_client, src_ioctx)

    def resize(self, pool, name, size):
        client, ioctx = self._connect_to_rados(pool)
        try:
            volume = rbd.Image(ioctx, name)
            try:
                volume.resize(size)
            finally:
                volume.close()
        finally:
            self._disconnect_from_rados(client, ioctx)

    def exists(self, pool, name, snapshot=None):
        client, ioctx = self._connect_to_rados(pool)
        try:
            try:
                rbd.Image(ioctx, name, snapshot=snapshot, read_only=True).close()
                return True
            except rbd.ImageNotFound:
                return False
        finally:
            self._disconnect_from_rados(client, ioctx)

    def get_fsid(self):
        client = rados.Rados(rados_id=self.rbd_user, conffile=self.ceph_conf)
        try:
            client.connect(timeout=self.rbd_connect_timeout)
            return client.get_fsid()
        finally:
            client.shutdown()

    @staticmethod
    def parse_url(url):
        prefix = 'rbd://'
        if not url.startswith(prefix):
            raise ValueError('not stored in rbd')
        pieces = [unquote(piece) for piece in url[len(prefix):].split('/')]
        if '' in pieces or len(pieces) != 4:
            raise ValueError('not an rbd snapshot')
        return pieces

    def is_cloneable(self, url, image_meta):
        try:
            fsid, pool, image, snapshot = self.parse_url(url)
        except ValueError:
            return False
        if self.get_fsid() != fsid:
            return False
        if image_meta.get('disk_format') != 'raw':
            return False
        try:
            return self.exists(pool, image, snapshot)
        except rbd.Error:
            return False

    def clone_url(self, url, dest_pool, dest_name):
        _fsid, pool, image, snapshot = self.parse_url(url)
        self.clone(pool, image, snapshot, dest_pool, dest_name)

    def size_persistent(self, pool, name):
        if pool not in self._persistent:
            self._persistent[pool] = self._connect_to_rados(pool)
        _client, ioctx = self._persistent[pool]
        volume = rbd.Image(ioctx, name, read_only=True)
        try:
            return volume.size()
        finally:
            volume.close()

    def clone_persistent(self, src_pool, image, snapshot, dest_pool, dest_name):
        for pool in (src_pool, dest_pool):
            if pool not in self._persistent:
                self._persistent[pool] = self._connect_to_rados(pool)
        src_client, src_ioctx = self._persistent[src_pool]
        _dest_client, dest_ioctx = self._persistent[dest_pool]
        rbd.RBD().clone(src_ioctx, image, snapshot, dest_ioctx, dest_name, features=self._features(src_client))

    def close(self):
        for client, ioctx in self._persistent.values():
            self._disconnect_from_rados(client, ioctx)
        self._persistent.clear()


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return (time.perf_counter() - t0) * 1000.0, result


def handle(driver, cmd):
    op = cmd['op']
    if op == 'size':
        ms, result = timed(driver.size, cmd['pool'], cmd['image'])
    elif op == 'size_persistent':
        ms, result = timed(driver.size_persistent, cmd['pool'], cmd['image'])
    elif op == 'clone':
        ms, result = timed(driver.clone, cmd['src_pool'], cmd['image'], cmd['snapshot'],
                           cmd['dest_pool'], cmd['dest'])
    elif op == 'clone_persistent':
        ms, result = timed(driver.clone_persistent, cmd['src_pool'], cmd['image'], cmd['snapshot'],
                           cmd['dest_pool'], cmd['dest'])
    elif op == 'clone_many':
        def one(name):
            driver.clone(cmd['src_pool'], cmd['image'], cmd['snapshot'], cmd['dest_pool'], name)

        def all_of_them():
            with ThreadPoolExecutor(max_workers=cmd.get('workers', 20)) as pool:
                # list() re-raises the first failure.
                list(pool.map(one, cmd['names']))

        ms, result = timed(all_of_them)
    elif op == 'ping':
        ms, result = 0.0, 'pong'
    else:
        raise ValueError('unknown op %r' % op)
    return {'ms': ms, 'result': result}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--conf', required=True)
    parser.add_argument('--user', required=True)
    parser.add_argument('--connect-timeout', type=int, default=5)  # nova's rbd_connect_timeout
    args = parser.parse_args()
    driver = NovaRBDDriver(args.conf, args.user, args.connect_timeout)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                answer = {'id': cmd.get('id'), 'ok': True, **handle(driver, cmd)}
            except Exception as error:  # reported to Node, which fails the bench
                answer = {'id': cmd.get('id'), 'ok': False, 'error': '%s: %s' % (type(error).__name__, error)}
            sys.stdout.write(json.dumps(answer) + '\n')
            sys.stdout.flush()
    finally:
        driver.close()


if __name__ == '__main__':
    main()
