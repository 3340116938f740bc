// One module of name validators: each accepts what its tool accepts, refuses
// the rest with one message template, and is the one the library uses.
import { describe, expect, it } from 'vitest';

import { BaseImageCache } from '../../src/cache/BaseImageCache.js';
import { Locks } from '../../src/cache/Locks.js';
import { InvalidArgumentError } from '../../src/errors.js';
import * as lvmNames from '../../src/lvm/names.js';
import {
  checkFileName,
  checkLogicalVolumeName,
  checkRbdName,
  checkVolumeGroupName,
  MAX_FILE_NAME_BYTES,
  MAX_RBD_NAME_BYTES,
} from '../../src/names.js';
import { RbdPool } from '../../src/rbd/RbdPool.js';

function refusal(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return e as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('checkFileName', () => {
  it('accepts nova names: uuids, sha1 hex with a size, disk names', () => {
    for (const ok of ['0f6c1d2e-3b4a-4c5d-8e9f-001122334455', 'da39a3ee5e6b4b0d3255bfef95601890afd80709_10', 'disk.eph0', '_base', 'a'.repeat(255)]) {
      expect(() => checkFileName(ok, 'name')).not.toThrow();
    }
  });

  it("refuses paths, '.', '..', options, empty, non-strings and names over 255 bytes", () => {
    for (const bad of ['', '.', '..', '../etc', 'a/b', '-rf', '.hidden', 'a b', 'a\u0000b', 'ä', 42, undefined, 'a'.repeat(256)]) {
      const error = refusal(() => checkFileName(bad, 'diskName'));
      expect(error.message).toMatch(/^Expected a file name .* for diskName but received /);
    }
    expect(refusal(() => checkFileName('x'.repeat(MAX_FILE_NAME_BYTES + 1), 'n')).message).toMatch(/at most 255 bytes/);
  });

  it('is what the cache, the locks and the backends use', () => {
    expect(() => new BaseImageCache({ instancesPath: '/tmp', imageCacheSubdirectoryName: 'x'.repeat(256) })).toThrow(InvalidArgumentError);
    expect(() => new Locks({ lockPath: '/tmp/locks' }).lockFile('y'.repeat(256))).toThrow(/Expected a lock name \(one file name\) of at most 255 bytes for name/);
  });
});

describe('checkRbdName', () => {
  it('accepts what Ceph accepts, including characters other names refuse', () => {
    for (const ok of ['disk', '0f6c1d2e_disk.local', 'a+b', 'a:b', 'image-é', 'x'.repeat(MAX_RBD_NAME_BYTES)]) {
      expect(() => checkRbdName(ok, 'image')).not.toThrow();
    }
  });

  it("refuses empty, '.', '..', leading '-', '/', '@', NUL, control and white-space characters, over-long names", () => {
    const cases: [unknown, RegExp][] = [
      ['', /empty/],
      [7, /empty/],
      ['.', /is \. or \.\./],
      ['..', /is \. or \.\./],
      ['-disk', /starts with a hyphen/],
      ['vms/disk', /contains '\/'/],
      ['disk@snap', /contains '@'/],
      ['a\u0000b', /control/],
      ['a\nb', /control/],
      ['a\tb', /control/],
      ['a b', /white-space/],
      ['a\u007fb', /control/],
      ['x'.repeat(MAX_RBD_NAME_BYTES + 1), /longer than 1000 bytes/],
      ['é'.repeat(1100), /longer than/],
    ];
    for (const [bad, why] of cases) {
      const error = refusal(() => checkRbdName(bad, 'image'));
      expect(error.message).toMatch(/^Expected an RBD name \(this one .*\) for image but received /);
      expect(error.message).toMatch(why);
    }
  });

  it('guards the RBD classes before any cluster call', () => {
    const pool = Object.create(RbdPool.prototype) as RbdPool;
    expect(() => pool.image('a/b')).toThrow(/Expected an image name \(this one contains '\/'\) for image/);
  });
});

describe('LVM names', () => {
  it('are the same validators through src/lvm/names.ts', () => {
    expect(lvmNames.checkLogicalVolumeName).toBe(checkLogicalVolumeName);
    expect(lvmNames.checkVolumeGroupName).toBe(checkVolumeGroupName);
  });

  it('follow lvm2: charset, length, reserved prefixes and parts', () => {
    expect(() => checkVolumeGroupName('nova-vg')).not.toThrow();
    expect(() => checkLogicalVolumeName('uuid_disk')).not.toThrow();
    expect(refusal(() => checkVolumeGroupName('bad name')).message).toMatch(/^Expected an lvm2 volume group name \(this one has characters/);
    expect(refusal(() => checkLogicalVolumeName('x'.repeat(124))).message).toMatch(/longer than 123/);
    expect(refusal(() => checkLogicalVolumeName('snapshot1')).message).toMatch(/reserved prefix/);
    expect(refusal(() => checkLogicalVolumeName('a_rimage_0')).message).toMatch(/reserved part _rimage/);
  });
});
