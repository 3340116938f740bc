// fromNative: one errno table per domain, and the caller's stack on the typed
// error. The real addon's rejections (inspect, overlay, block-device ops) and
// synthetic native errors for the domains that need a cluster or root.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { copyRawData } from '../../src/blockdev/copy.js';
import { blockDeviceSize } from '../../src/blockdev/size.js';
import * as E from '../../src/errors.js';
import { callNative, fromNative, type NativeDomain } from '../../src/fromNative.js';
import { inspect } from '../../src/image/inspect.js';
import { createQcow2Overlay } from '../../src/image/overlay.js';
import { tempDir } from '../helpers/files.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

/** An error as the addon rejects with: Node's system-error shape. */
function nativeError(code: string, syscall: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${code}: something, ${syscall}`), { code, errno: -5, syscall, ...extra });
}

describe('fromNative errno tables', () => {
  const cases: [NativeDomain, string, string, abstract new (...a: never[]) => E.ImageBackendError][] = [
    ['rbd', 'ENOENT', 'rbd_open', E.RbdNotFoundError],
    ['rbd', 'EPERM', 'rbd_clone3', E.RbdPermissionError],
    ['rbd', 'EACCES', 'rbd_create4', E.RbdPermissionError],
    ['rbd', 'EBUSY', 'rbd_remove', E.RbdBusyError],
    ['rbd', 'ENOTEMPTY', 'rbd_remove', E.RbdBusyError],
    ['rbd', 'EEXIST', 'rbd_create4', E.RbdExistsError],
    ['rbd', 'ETIMEDOUT', 'rados_connect', E.RbdTimeoutError],
    ['rbd', 'ESHUTDOWN', 'rbd_open', E.RbdClosedError],
    ['rbd', 'ECANCELED', 'rbd_aio_write', E.AbortError],
    ['rbd', 'EIO', 'rbd_stat', E.RbdError],
    ['image', 'EINVAL', 'inspect', E.ImageInvalidError],
    ['image', 'EINVAL', 'qcow2_overlay', E.InvalidArgumentError],
    ['image', 'EINVAL', 'pread', E.ImageIoError],
    ['image', 'ENOENT', 'open', E.DiskNotFoundError],
    ['blockdev', 'ENOENT', 'open', E.DiskNotFoundError],
    ['blockdev', 'ECANCELED', 'BLKZEROOUT', E.AbortError],
    ['blockdev', 'EIO', 'BLKZEROOUT', E.BlockDeviceError],
    ['lvm', 'ENOMEM', 'lvm2_init', E.LvmError],
    ['fs', 'ENOENT', 'open', E.DiskNotFoundError],
    ['fs', 'EACCES', 'open', E.ImageIoError],
  ];
  it.each(cases)('%s %s from %s is %o', (domain, code, syscall, Class) => {
    const cause = nativeError(code, syscall, { pool: 'vms', image: 'disk', path: '/p' });
    const typed = fromNative(cause, { domain, operation: 'op' });
    expect(typed).toBeInstanceOf(Class);
    expect(typed).toMatchObject({ operation: 'op', errnoName: code, errno: -5, syscall, pool: 'vms', image: 'disk', path: '/p' });
    expect(typed.cause).toBe(cause);
  });

  it('the caller names what the native error does not, and may choose the fallback class', () => {
    const typed = fromNative(nativeError('EISDIR', 'open'), { domain: 'blockdev', operation: 'copyRawData', path: '/d', otherwise: E.CopyFailedError });
    expect(typed).toBeInstanceOf(E.CopyFailedError);
    expect(typed.path).toBe('/d');
  });

  it('library errors pass through; anything else is wrapped with cause', () => {
    const own = new E.RbdBusyError('busy');
    expect(fromNative(own, { domain: 'rbd', operation: 'remove' })).toBe(own);
    const plain = new Error('odd');
    const wrapped = fromNative(plain, { domain: 'rbd', operation: 'stat' });
    expect(wrapped).toBeInstanceOf(E.RbdError);
    expect(wrapped.cause).toBe(plain);
    expect(fromNative('a string', { domain: 'lvm', operation: 'lvm lvs' })).toBeInstanceOf(E.LvmError);
    const argument = Object.assign(new TypeError('Expected a string for path but received 1'), { code: 'ERR_INVALID_ARG_TYPE' });
    expect(fromNative(argument, { domain: 'image', operation: 'inspect' })).toBeInstanceOf(E.InvalidArgumentError);
  });
});

describe('real native rejections', () => {
  it('inspect of a missing file: DiskNotFoundError with the errno and syscall', async () => {
    const error = await inspect(join(dir, 'missing')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(E.DiskNotFoundError);
    expect(error).toMatchObject({ code: 'DISK_NOT_FOUND', errnoName: 'ENOENT', operation: 'inspect', path: join(dir, 'missing') });
    expect((error as E.ImageBackendError).syscall).toBeTypeOf('string');
  });

  it('inspect of a malformed qcow2: ImageInvalidError with the parser reason', async () => {
    const path = join(dir, 'bad.qcow2');
    const header = Buffer.alloc(512);
    header.write('QFI\xfb', 0, 'latin1');
    header.writeUInt32BE(3, 4); // version 3, every other field zero: cluster_bits 0 is impossible
    await writeFile(path, header);
    const error = await inspect(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(E.ImageInvalidError);
    expect((error as Error).message).toMatch(/^Image '.*bad\.qcow2' is invalid: .+/);
  });

  it('an overlay whose backing file is missing, a size of a missing device, a copy onto a folder', async () => {
    await expect(createQcow2Overlay(join(dir, 'o.qcow2'), { backingFile: join(dir, 'nope') })).rejects.toBeInstanceOf(E.ImageBackendError);
    await expect(blockDeviceSize(join(dir, 'nodev'))).rejects.toMatchObject({ code: 'DISK_NOT_FOUND', errnoName: 'ENOENT' });
    const src = join(dir, 'src.raw');
    await writeFile(src, Buffer.alloc(4096, 1));
    await mkdir(join(dir, 'folder'));
    await expect(copyRawData(src, join(dir, 'folder'))).rejects.toBeInstanceOf(E.CopyFailedError);
  });

  it("the typed error's stack is the caller's, even through a caller that does not await", async () => {
    // A plain function handing the promise on: no async stack trace can see it.
    function callerThatDoesNotAwait(): Promise<unknown> {
      return inspect(join(dir, 'missing-too'));
    }
    const error = (await callerThatDoesNotAwait().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(E.DiskNotFoundError);
    expect(error.stack).toMatch(/^DiskNotFoundError: /);
    expect(error.stack).toContain('callerThatDoesNotAwait');

    function rbdCaller(): Promise<unknown> {
      return callNative({ domain: 'rbd', operation: 'size' }, () => Promise.reject(nativeError('ENOENT', 'rbd_open')));
    }
    const rbd = (await rbdCaller().catch((e: unknown) => e)) as Error;
    expect(rbd).toBeInstanceOf(E.RbdNotFoundError);
    expect(rbd.stack).toContain('rbdCaller');
  });
});
