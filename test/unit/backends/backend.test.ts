// nova's BackendTestCase: the registry, and every file backend's libvirt XML
// validated against libvirt's own schema.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../../src/backends/Backend.js';
import type { CreateResult, DiskStore } from '../../../src/backends/DiskStore.js';
import { FlatStore } from '../../../src/backends/FlatStore.js';
import { Qcow2Store } from '../../../src/backends/Qcow2Store.js';
import { RbdStore } from '../../../src/backends/RbdStore.js';
import type { DiskLocation, RbdStoreDriver, StoreContext } from '../../../src/backends/types.js';
import { cacheFileName } from '../../../src/cache/cacheFileName.js';
import { UnknownImageTypeError } from '../../../src/errors.js';
import { domainWith, validateDomain, xpath } from '../helpers/libvirt.js';
import { tempDir } from '../helpers/system.js';
import { MiB, copyingFetch, rawImage } from './helpers.js';

const UUID = '5d1e6f7a-0000-4000-8000-000000000003';

// A driver with only the pool: what the registry tests need (no connection is made).
const fakeDriver = (): RbdStoreDriver => ({ pool: 'vms' }) as RbdStoreDriver;

/** A block store of the tests' own, registered like a third-party one. */
class FakeBlockStore implements DiskStore {
  readonly kind = 'fakeblock';
  readonly path: string;
  readonly sourceType = 'block' as const;
  readonly driverFormat = 'raw' as const;
  readonly preallocate = false;
  readonly driverIo = undefined;
  readonly diskInfo = undefined;
  readonly sharedBlockStorage = false;
  readonly fileInInstancePath = false;
  readonly keepsBase = false;
  constructor(_context: StoreContext, location: DiskLocation) {
    this.path = 'path' in location ? location.path : `/dev/vg/${location.instance.uuid}_${location.diskName}`;
  }
  async exists() {
    return false;
  }
  async size() {
    return 0;
  }
  generatesInPlace() {
    return false;
  }
  async create(): Promise<CreateResult> {
    return { created: true, format: 'raw', virtualSize: 0 };
  }
  async grow() {
    return false;
  }
  async remove() {}
  async extract() {}
  async source() {
    return { type: 'block' as const, dev: this.path };
  }
  async auth() {
    return undefined;
  }
  async detectFormat() {
    return 'raw' as const;
  }
}

declare module '../../../src/backends/Backend.js' {
  interface DiskStoreTypes {
    fakeblock: FakeBlockStore;
  }
}

describe('Backend (nova BackendTestCase)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('backend')));
  afterEach(() => remove());

  it('test_image_flat / test_image_qcow2 / test_image_rbd: each type gives its class', () => {
    const backend = new Backend({ instancesPath: dir, rbd: { driver: fakeDriver() } });
    expect(backend.image({ uuid: UUID }, 'disk', 'raw').store).toBeInstanceOf(FlatStore);
    expect(backend.image({ uuid: UUID }, 'disk', 'flat').store).toBeInstanceOf(FlatStore);
    expect(backend.image({ uuid: UUID }, 'disk', 'qcow2').store).toBeInstanceOf(Qcow2Store);
    const rbd = backend.image({ uuid: UUID }, 'disk', 'rbd');
    expect(rbd.store).toBeInstanceOf(RbdStore);
    expect(rbd.store.rbdName).toBe(`${UUID}_disk`);
    expect(rbd.path).toBe(`rbd:vms/${UUID}_disk`);
  });

  it('test_image_default: qcow2 with useCowImages (the default), flat without', () => {
    expect(new Backend({ instancesPath: dir }).image({ uuid: UUID }, 'disk').store).toBeInstanceOf(Qcow2Store);
    expect(new Backend({ instancesPath: dir, useCowImages: false }).image({ uuid: UUID }, 'disk').store).toBeInstanceOf(FlatStore);
    expect(new Backend({ instancesPath: dir, imagesType: 'raw' }).image({ uuid: UUID }, 'disk', 'default').store).toBeInstanceOf(Qcow2Store);
  });

  it('an unknown type is UNKNOWN_IMAGE_TYPE naming the valid ones, at construction and per call', () => {
    const error = (() => {
      try {
        // @ts-expect-error: not a known images type (the point of the test)
        new Backend({ instancesPath: dir, imagesType: 'ploop' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnknownImageTypeError);
    expect(error).toMatchObject({ code: 'UNKNOWN_IMAGE_TYPE' });
    expect((error as Error).message).toBe("Unknown image type 'ploop'; valid types are: default, flat, lvm, qcow2, raw, rbd");
    expect((error as UnknownImageTypeError).validTypes).toEqual(['default', 'flat', 'lvm', 'qcow2', 'raw', 'rbd']);
    // @ts-expect-error: not a known images type
    expect(() => new Backend({ instancesPath: dir }).image({ uuid: UUID }, 'disk', 'lvm2')).toThrow(UnknownImageTypeError);
  });

  it('test_image_*_preallocate_images / native_io: preallocation sets io=native on file backends only', () => {
    const backend = new Backend({ instancesPath: dir, preallocateImages: 'space', rbd: { driver: fakeDriver() } });
    for (const type of ['raw', 'qcow2'] as const) {
      const image = backend.image({ uuid: UUID }, 'disk', type);
      expect(image.store.preallocate).toBe(true);
      expect(image.store.driverIo).toBe('native');
    }
    const rbd = backend.image({ uuid: UUID }, 'disk', 'rbd');
    expect(rbd.store.preallocate).toBe(false);
    expect(rbd.store.driverIo).toBeUndefined();
    expect(new Backend({ instancesPath: dir }).image({ uuid: UUID }, 'disk').store.preallocate).toBe(false);
  });

  it('registers a new store type with one call, typed through DiskStoreTypes', async () => {
    Backend.register('fakeblock', FakeBlockStore);
    const backend = new Backend({ instancesPath: dir, imagesType: 'fakeblock' });
    const image = backend.image({ uuid: UUID }, 'disk');
    expect(image.store).toBeInstanceOf(FakeBlockStore);
    expect(image.store.kind).toBe('fakeblock');
    expect(image.path).toBe(`/dev/vg/${UUID}_disk`);
    expect(backend.disk('/dev/vg/x_disk').path).toBe('/dev/vg/x_disk');
    expect(Backend.types()).toContain('fakeblock');
    const xml = (await image.libvirtInfo({ diskBus: 'virtio', diskDev: 'vdb' })).toXml();
    expect(xml).toContain(`<source dev="/dev/vg/${UUID}_disk"/>`);
    expect(validateDomain(domainWith(xml)).valid).toBe(true);
  });

  it('disk(path) gives the disk of an existing path (by_libvirt_path)', () => {
    const backend = new Backend({ instancesPath: dir, rbd: { driver: fakeDriver() } });
    const path = join(dir, UUID, 'disk');
    expect(backend.disk(path).path).toBe(path);
    expect(backend.disk(path, 'raw').store).toBeInstanceOf(FlatStore);
    expect(backend.disk('vms/abc_disk', 'rbd').store.rbdName).toBe('abc_disk');
    expect(backend.disk('rbd:vms/abc_disk:id=nova', 'rbd').store.rbdName).toBe('abc_disk');
    expect(() => backend.disk('abc_disk', 'rbd')).toThrow(/pool\/name/);
  });

  it('refuses instance and disk names that are not one file name', () => {
    const backend = new Backend({ instancesPath: dir });
    expect(() => backend.image({ uuid: '../etc' }, 'disk')).toThrow(/instance.uuid/);
    expect(() => backend.image({ uuid: UUID }, 'a/b')).toThrow(/diskName/);
  });

  it('Symbol.asyncDispose closes the backend (await using)', async () => {
    let closed = 0;
    const backend = new Backend({ instancesPath: dir });
    const close = backend.close.bind(backend);
    backend.close = async () => {
      closed++;
      await close();
    };
    await backend[Symbol.asyncDispose]();
    expect(closed).toBe(1);
  });
});

describe('libvirtInfo of the file backends validates against libvirt schema', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('backend-xml')));
  afterEach(() => remove());

  for (const type of ['raw', 'qcow2'] as const) {
    it(`${type}: virtio with iotune, scsi with unit and boot order`, async () => {
      const source = await rawImage(dir, 'src.raw', 8 * MiB);
      const backend = new Backend({ instancesPath: join(dir, 'i'), imagesType: type, discardMode: 'unmap', preallocateImages: 'space' });
      const disk = backend.image({ uuid: UUID }, 'disk');
      await disk.cache({ ...copyingFetch(source), filename: cacheFileName('x'), imageId: 'x', size: 16 * MiB });
      const virtio = await disk.libvirtInfo({
        diskBus: 'virtio',
        diskDev: 'vda',
        deviceType: 'disk',
        cacheMode: 'none',
        extraSpecs: { 'quota:disk_read_bytes_sec': '10485760', 'quota:disk_write_iops_sec': 200, 'hw:cpu_policy': 'dedicated' },
        hypervisorVersion: 7002000,
        bootOrder: 1,
      });
      const scsi = await disk.libvirtInfo({ diskBus: 'scsi', diskDev: 'sda', cacheMode: 'writeback', diskUnit: 3, extraSpecs: {} });
      const doc = domainWith(`${virtio.toXml()}\n${scsi.toXml()}`);
      const result = validateDomain(doc);
      expect(result.output).toContain('validates');
      expect(result.valid).toBe(true);
      expect(xpath(doc, 'string(//disk[1]/driver/@type)').trim()).toBe(type === 'qcow2' ? 'qcow2' : 'raw');
      expect(xpath(doc, 'string(//disk[1]/driver/@io)').trim()).toBe('native');
      expect(xpath(doc, 'string(//disk[1]/driver/@discard)').trim()).toBe('unmap');
      expect(xpath(doc, 'string(//disk[1]/source/@file)').trim()).toBe(disk.path);
      expect(xpath(doc, 'string(//disk[1]/iotune/read_bytes_sec)').trim()).toBe('10485760');
      expect(xpath(doc, 'string(//disk[1]/iotune/write_iops_sec)').trim()).toBe('200');
      expect(xpath(doc, 'string(//disk[1]/boot/@order)').trim()).toBe('1');
      expect(xpath(doc, 'string(//disk[2]/address/@unit)').trim()).toBe('3');
      expect(xpath(doc, 'string(//disk[2]/target/@bus)').trim()).toBe('scsi');
      // nova's _set_cache_mode: io=native needs O_DIRECT (cache none/directsync); writeback falls back to threads.
      expect(xpath(doc, 'string(//disk[2]/driver/@cache)').trim()).toBe('writeback');
      expect(xpath(doc, 'string(//disk[2]/driver/@io)').trim()).toBe('threads');
    });
  }
});
