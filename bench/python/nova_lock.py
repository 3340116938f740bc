"""nova's external lock, shared by the benchmark's nova harnesses."""

import contextlib
import fcntl
import os
import threading

_thread_locks = {}
_thread_locks_guard = threading.Lock()


@contextlib.contextmanager
def external_lock(lock_path, name):
    """oslo_concurrency.lockutils.lock(name, external=True): a per-name lock
    inside the process, then a lockf lock on <lock_path>/nova-<name>."""
    with _thread_locks_guard:
        inner = _thread_locks.setdefault(name, threading.Lock())
    with inner:
        with open(os.path.join(lock_path, 'nova-' + name), 'a') as lock_file:
            fcntl.lockf(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(lock_file, fcntl.LOCK_UN)
