// The error model's one rule: each error class owns its code, so a class and
// its code cannot disagree; every code has exactly one class.
import { describe, expect, it } from 'vitest';

import * as errors from '../../src/errors.js';
import { ImageBackendError } from '../../src/errors.js';

type ErrorClass = (abstract new (...args: never[]) => ImageBackendError) & { readonly code?: string };

const classes = (Object.entries(errors) as [string, unknown][]).filter(
  (entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && (entry[1] as { prototype?: unknown }).prototype instanceof ImageBackendError,
);
const concrete = classes.filter(([, cls]) => cls.code !== undefined);

// The codes are public API: this list only grows.
const CODES = [
  'ABORTED',
  'BLOCKDEV_FAILED',
  'CACHE_FAILED',
  'COPY_FAILED',
  'DISK_INFO_READ_FAILED',
  'DISK_INFO_WRITE_FAILED',
  'DISK_NOT_FOUND',
  'FETCH_FAILED',
  'FILESYSTEM_RESIZE_FAILED',
  'FLAVOR_DISK_TOO_SMALL',
  'IMAGE_CHECKSUM_MISMATCH',
  'IMAGE_FORMAT_MISMATCH',
  'IMAGE_INVALID',
  'IMAGE_NOT_ACTIVE',
  'IMAGE_NOT_FOUND',
  'IMAGE_SERVICE_CONFLICT',
  'IMAGE_SERVICE_FAILED',
  'IMAGE_SERVICE_FORBIDDEN',
  'IMAGE_SERVICE_TIMEOUT',
  'IMAGE_SERVICE_UNAUTHORIZED',
  'IMAGE_SERVICE_UNAVAILABLE',
  'IMAGE_SIZE_MISMATCH',
  'IMAGE_TOO_LARGE',
  'IMAGE_UNACCEPTABLE',
  'IMAGE_UNSAFE',
  'INVALID_ARGUMENT',
  'INVALID_DISK_INFO',
  'IO_ERROR',
  'LIBRARY_NOT_FOUND',
  'LOCK_COMPROMISED',
  'LOCK_FAILED',
  'LOCK_TIMEOUT',
  'LVM_EXISTS',
  'LVM_FAILED',
  'LVM_NOT_CONFIGURED',
  'LVM_NOT_FOUND',
  'LVM_NO_SPACE',
  'NATIVE_LOAD_FAILED',
  'NOT_SUPPORTED',
  'QEMU_FAILED',
  'QEMU_TIMEOUT',
  'RBD_AUTH_NOT_CONFIGURED',
  'RBD_BUSY',
  'RBD_CLOSED',
  'RBD_ERROR',
  'RBD_EXISTS',
  'RBD_NOT_FOUND',
  'RBD_PERMISSION',
  'RBD_TIMEOUT',
  'TOOL_NOT_FOUND',
  'UNKNOWN_IMAGE_TYPE',
  'UNSUPPORTED_FILE_TYPE',
  'VOLUMES_NOT_REMOVED',
];

describe('error classes', () => {
  it('every code has exactly one class, and every concrete class one code', () => {
    const codes = concrete.map(([, cls]) => cls.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(CODES);
  });

  it('an instance carries its class code, name, details and cause', () => {
    for (const [name, cls] of concrete) {
      const Concrete = cls as unknown as new (message: string, details: object) => ImageBackendError;
      const cause = new Error('underneath');
      const error = new Concrete('it failed', {
        operation: 'op',
        path: '/p',
        cause,
        reasons: [],
        validTypes: [],
        failures: [],
        baseSize: 2,
        requestedSize: 1,
      });
      expect(error, name).toBeInstanceOf(ImageBackendError);
      expect(error.code, name).toBe(cls.code);
      expect(error.name, name).toBe(name);
      expect(error.message).toBe('it failed');
      expect(error.operation).toBe('op');
      expect(error.path).toBe('/p');
      expect(error.cause).toBe(cause);
      expect(Object.keys(error)).not.toContain('cause');
    }
  });

  it('the abstract bases cannot be thrown themselves', () => {
    const Base = ImageBackendError as unknown as new (message: string) => Error;
    expect(() => new Base('x')).toThrow(TypeError);
    const DiskInfoIo = errors.DiskInfoIoError as unknown as new (message: string) => Error;
    expect(() => new DiskInfoIo('x')).toThrow(/no static code/);
  });

  it('the split classes stay instances of the class that used to carry their codes', () => {
    expect(new errors.LockTimeoutError('t')).toBeInstanceOf(errors.LockError);
    expect(new errors.LockCompromisedError('c')).toBeInstanceOf(errors.LockError);
    expect(new errors.QemuImgTimeoutError('t')).toBeInstanceOf(errors.QemuImgError);
    expect(new errors.DiskInfoReadError('r')).toBeInstanceOf(errors.DiskInfoIoError);
    expect(new errors.DiskInfoWriteError('w')).toBeInstanceOf(errors.DiskInfoIoError);
    expect(new errors.LockError('f').code).toBe('LOCK_FAILED');
    expect(new errors.QemuImgError('f').code).toBe('QEMU_FAILED');
  });

  it('extra fields of the rich errors travel in details', () => {
    const unsafe = new errors.ImageUnsafeError('unsafe', { reasons: ['backing file: x'], path: '/i' });
    expect(unsafe.reasons).toEqual(['backing file: x']);
    const small = new errors.FlavorDiskTooSmallError('small', { baseSize: 10, requestedSize: 5 });
    expect([small.baseSize, small.requestedSize]).toEqual([10, 5]);
    const unknown = new errors.UnknownImageTypeError('unknown', { validTypes: ['raw'] });
    expect(unknown.validTypes).toEqual(['raw']);
    const inner = new errors.LvmError('lvremove failed');
    const volumes = new errors.VolumesNotRemovedError('1 not removed', { failures: [{ path: '/dev/vg/lv', error: inner }] });
    expect(volumes.failures[0]?.error).toBe(inner);
  });

  it('invalidArgument words every argument error one way', () => {
    const error = errors.invalidArgument('a non-empty string', 'pool', 42);
    expect(error).toBeInstanceOf(errors.InvalidArgumentError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('Expected a non-empty string for pool but received 42');
  });
});
