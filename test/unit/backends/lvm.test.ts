// nova's LvmTestCase at the Image level. This kernel has no device-mapper, so
// the lvm2 driver is a fake whose "volumes" are files; the real data path
// (provisionFromBase/provisionGenerated, writing, removal on failure) runs
// as it is. lvm2 itself is covered by test/integration/lvm-*.test.ts and the VM test.
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../../src/backends/Backend.js';
import { canClone, canSnapshot } from '../../../src/backends/DiskStore.js';
import { LvmStore } from '../../../src/backends/LvmStore.js';
import { cacheFileName } from '../../../src/cache/cacheFileName.js';
import { LvmNotFoundError } from '../../../src/errors.js';
import type { CreatedVolume, LvmDriver } from '../../../src/lvm/LvmDriver.js';
import { domainWith, validateDomain } from '../helpers/libvirt.js';
import { tempDir } from '../helpers/system.js';
import { MiB, copyingFetch, qcow2WithBacking, rawImage } from './helpers.js';

const UUID = '3c0ffee0-0000-4000-8000-000000000004';

class FileLvm implements Partial<LvmDriver> {
  readonly created: Array<[string, string, number, boolean | undefined]> = [];
  readonly removed: string[] = [];
  readonly clears: unknown[] = [];
  readonly volumes = new Map<string, string>();
  constructor(readonly dir: string) {}
  async createVolume(vg: string, lv: string, size: number, options: { sparse?: boolean } = {}): Promise<CreatedVolume> {
    this.created.push([vg, lv, size, options.sparse]);
    const file = join(this.dir, `${vg}-${lv}`);
    await writeFile(file, '');
    await truncate(file, size);
    this.volumes.set(`/dev/${vg}/${lv}`, file);
    return { path: file, volumeGroup: vg, logicalVolume: lv, size };
  }
  async volumeInfo(path: string) {
    if (!this.volumes.has(path)) throw new LvmNotFoundError(`no volume ${path}`);
    return { path } as never;
  }
  async removeVolumes(paths: readonly string[], options: { clear?: unknown } = {}): Promise<void> {
    if (options.clear) this.clears.push(options.clear);
    for (const p of paths) {
      if (this.volumes.has(p)) {
        this.removed.push(p);
        this.volumes.delete(p);
        continue;
      }
      this.removed.push(p);
      await rm(p, { force: true });
      for (const [k, v] of this.volumes) if (v === p) this.volumes.delete(k);
    }
  }
  async getVolumeSize(path: string): Promise<number> {
    const file = this.volumes.get(path);
    if (!file) throw new LvmNotFoundError(`no volume ${path}`);
    return (await stat(file)).size;
  }
  async close(): Promise<void> {}
}

describe('Lvm (nova LvmTestCase, fake lvm2)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let lvm: FileLvm;
  let backend: Backend<'lvm'>;
  let source: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir('lvm-backend'));
    lvm = new FileLvm(dir);
    backend = new Backend({ instancesPath: join(dir, 'instances'), imagesType: 'lvm', lvm: { volumeGroup: 'nova-vg', driver: lvm as unknown as LvmDriver } });
    source = await rawImage(dir, 'base.raw', 8 * MiB);
  });
  afterEach(() => remove());

  it('names volumes <uuid>_<disk> with _ doubled, under /dev/<vg>; a block device, not preallocated', () => {
    const disk = backend.image({ uuid: UUID }, 'disk.local_1');
    expect(disk.store).toBeInstanceOf(LvmStore);
    expect(disk.path).toBe(`/dev/nova-vg/${UUID}_disk.local__1`);
    expect(disk.store.sourceType).toBe('block');
    expect(disk.store.preallocate).toBe(false);
    expect(backend.disk('/dev/other-vg/x_disk').store.volumeGroup).toBe('other-vg');
  });

  it('needs a volume group: LVM_NOT_CONFIGURED', () => {
    const none = new Backend({ instancesPath: dir });
    expect(() => none.image({ uuid: UUID }, 'disk', 'lvm')).toThrow(expect.objectContaining({ code: 'LVM_NOT_CONFIGURED' }));
  });

  it('test_create_image / test_cache: the base fetched once and written into a volume of the size; nothing redone', async () => {
    const disk = backend.image({ uuid: UUID }, 'disk');
    const { fetch, calls } = copyingFetch(source);
    const report = await disk.cache({ fetch, filename: cacheFileName('i'), imageId: 'i', size: 8 * MiB });
    expect(report).toMatchObject({ created: true, fetched: true, format: 'raw', virtualSize: 8 * MiB });
    expect(calls).toHaveLength(1);
    expect(lvm.created).toEqual([['nova-vg', `${UUID}_disk`, 8 * MiB, false]]);
    const volume = lvm.volumes.get(disk.path) as string;
    expect((await readFile(volume)).equals(await readFile(source))).toBe(true);
    expect(await disk.exists()).toBe(true);
    await disk.cache({ fetch, filename: cacheFileName('i'), imageId: 'i', size: 8 * MiB });
    expect(lvm.created).toHaveLength(1);
  });

  it('test_create_image_negative: FLAVOR_DISK_TOO_SMALL before any volume; an unsafe base is refused too', async () => {
    const disk = backend.image({ uuid: UUID }, 'disk');
    await expect(disk.cache({ ...copyingFetch(source), filename: cacheFileName('i'), imageId: 'i', size: MiB })).rejects.toMatchObject({
      code: 'FLAVOR_DISK_TOO_SMALL',
    });
    const evil = await qcow2WithBacking(dir, 'evil.qcow2', '/etc/hostname');
    await expect(disk.cache({ ...copyingFetch(evil), filename: cacheFileName('evil'), imageId: 'evil' })).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
    expect(lvm.created).toEqual([]);
  });

  it('test_create_image_generated: an ephemeral disk is a new volume the fetch writes in place; removed when the fetch fails', async () => {
    const eph = backend.image({ uuid: UUID }, 'disk.eph0');
    const targets: string[] = [];
    await eph.cache({
      filename: 'ephemeral_4_abc',
      size: 4 * MiB,
      ephemeralSize: 4 * MiB,
      fetch: async ({ target }) => {
        targets.push(target);
        await writeFile(target, 'mkfs', { flag: 'r+' });
      },
    });
    expect(lvm.created).toEqual([['nova-vg', `${UUID}_disk.eph0`, 4 * MiB, false]]);
    expect(targets).toEqual([lvm.volumes.get(eph.path)]);
    expect((await stat(targets[0] as string)).size).toBe(4 * MiB);

    const swap = backend.image({ uuid: UUID }, 'disk.swap');
    await expect(
      swap.cache({ filename: 'swap_4', size: 4 * MiB, ephemeralSize: 4 * MiB, fetch: async () => Promise.reject(new Error('mkswap failed')) }),
    ).rejects.toThrow('mkswap failed');
    expect(lvm.removed).toEqual([join(dir, `nova-vg-${UUID}_disk.swap`)]);
    expect(await swap.exists()).toBe(false);
  });

  it('libvirtInfo: a block disk, raw, valid per libvirt schema; snapshots are not supported', async () => {
    const disk = backend.image({ uuid: UUID }, 'disk');
    const xml = (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
    expect(xml).toContain(`<source dev="/dev/nova-vg/${UUID}_disk"/>`);
    expect(xml).toContain('type="raw"');
    expect(validateDomain(domainWith(xml)).valid).toBe(true);
    expect(await disk.resolveDriverFormat()).toBe('raw');
    // No snapshots, no clone: capabilities by type, never stubs.
    expect(canSnapshot(disk.store)).toBe(false);
    expect(canClone(disk.store)).toBe(false);
  });

  it('io="native" unless sparse (nova: driver_io when not sparse_logical_volumes)', async () => {
    // cacheMode none: libvirt refuses io=native without a cache mode that bypasses the page cache.
    const dense = (await backend.image({ uuid: UUID }, 'disk').libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
    expect(dense).toContain('io="native"');
    const sparse = new Backend({ instancesPath: dir, imagesType: 'lvm', lvm: { volumeGroup: 'nova-vg', sparse: true, driver: lvm as unknown as LvmDriver } });
    const xml = (await sparse.image({ uuid: UUID }, 'disk').libvirtInfo({ diskBus: 'virtio', diskDev: 'vda' })).toXml();
    expect(xml).not.toContain('io=');
    expect(validateDomain(domainWith(dense)).valid).toBe(true);
  });

  it('remove(): wiped per volumeClear/volumeClearSizeMiB and removed; a missing volume is left alone', async () => {
    const shredding = new Backend({
      instancesPath: dir,
      imagesType: 'lvm',
      lvm: { volumeGroup: 'nova-vg', volumeClear: 'shred', volumeClearSizeMiB: 4, driver: lvm as unknown as LvmDriver },
    });
    const disk = shredding.image({ uuid: UUID }, 'disk');
    await disk.cache({ ...copyingFetch(source), filename: cacheFileName('i'), imageId: 'i', size: 8 * MiB });
    await disk.remove();
    expect(lvm.clears).toEqual([{ volumeClear: 'shred', volumeClearSizeMiB: 4 }]);
    expect(lvm.removed).toEqual([disk.path]);
    expect(await disk.exists()).toBe(false);
    await disk.remove();
    expect(lvm.removed).toHaveLength(1);
    expect(backend.image({ uuid: UUID }, 'disk').store.clear).toEqual({ volumeClear: 'zero', volumeClearSizeMiB: 0 });
  });
});
