# nova's own external lock, for the lock interoperability tests. Runs under
# Debian's /usr/bin/python3 with python3-nova:
#   nova_lock.py <lock_path> <name> hold   prints "locked" once nova holds the
#                                          lock, holds it until a line (or EOF)
#                                          arrives on stdin, prints "released"
#   nova_lock.py <lock_path> <name> take   prints "waiting" just before asking
#                                          for the lock, "locked" once it has
#                                          it, then releases it and exits
# Nothing here imitates nova: the lock is nova.utils.synchronized(name,
# external=True) with oslo.config's [oslo_concurrency] lock_path, as
# nova.virt.libvirt.imagebackend takes it around a base image.
import sys

import nova.utils
from oslo_config import cfg

lock_path, name, mode = sys.argv[1:4]
cfg.CONF([], project='nova', default_config_files=[])
cfg.CONF.set_override('lock_path', lock_path, group='oslo_concurrency')


@nova.utils.synchronized(name, external=True)
def locked():
    print('locked', flush=True)
    if mode == 'hold':
        sys.stdin.readline()


print('waiting', flush=True)
locked()
print('released', flush=True)
