import { describe, expect, it } from 'vitest';
import { FlavorDiskTooSmallError, ImageBackendError } from '../../src/errors.js';
import { verifyBaseSize } from '../../src/verify.js';

const GiB = 2 ** 30;

describe('verifyBaseSize', () => {
  it('passes a base that fits, exactly or with room', () => {
    expect(() => verifyBaseSize(GiB, GiB)).not.toThrow();
    expect(() => verifyBaseSize(GiB, 20 * GiB)).not.toThrow();
    expect(() => verifyBaseSize(0, 1)).not.toThrow();
  });

  it('treats a requested size of 0 or undefined as "use the image size"', () => {
    expect(() => verifyBaseSize(40 * GiB, 0)).not.toThrow();
    expect(() => verifyBaseSize(40 * GiB)).not.toThrow();
    expect(() => verifyBaseSize(40 * GiB, undefined, { path: '/b' })).not.toThrow();
  });

  it('refuses a base larger than the requested size with both sizes', () => {
    const error = (() => {
      try {
        verifyBaseSize(20 * GiB + 1, 20 * GiB, { path: '/var/lib/nova/instances/_base/abc' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(FlavorDiskTooSmallError);
    expect(error).toBeInstanceOf(ImageBackendError);
    expect(error).toMatchObject({
      code: 'FLAVOR_DISK_TOO_SMALL',
      baseSize: 20 * GiB + 1,
      requestedSize: 20 * GiB,
      path: '/var/lib/nova/instances/_base/abc',
      operation: 'verifyBaseSize',
      name: 'FlavorDiskTooSmallError',
    });
    expect((error as Error).message).toBe(
      `/var/lib/nova/instances/_base/abc has a virtual size of ${20 * GiB + 1} bytes, larger than the requested disk size of ${20 * GiB} bytes`,
    );
    expect(() => verifyBaseSize(2, 1)).toThrow('the base image has a virtual size of 2 bytes');
  });

  it('validates its arguments', () => {
    expect(() => verifyBaseSize(-1, 1)).toThrow('Expected a byte count for baseVirtualSize but received -1');
    expect(() => verifyBaseSize(Number.NaN, 1)).toThrow(/baseVirtualSize/);
    expect(() => verifyBaseSize(1, 1.5)).toThrow('Expected a byte count for requestedSize but received 1.5');
    expect(() => verifyBaseSize(1, -5)).toThrow(/requestedSize/);
    expect(() => verifyBaseSize('1' as unknown as number, 1)).toThrow("Expected a byte count for baseVirtualSize but received '1'");
  });
});
