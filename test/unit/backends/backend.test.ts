// nova's BackendTestCase: the registry, and every file backend's libvirt XML
// validated against libvirt's own schema.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../../src/backends/Backend.js';
import { Flat } from '../../../src/backends/Flat.js';
import { Image } from '../../../src/backends/Image.js';
import { Qcow2 } from '../../../src/backends/Qcow2.js';
import { Rbd } from '../../../src/backends/Rbd.js';
import type { BackendContext, ImageLocation, PrepareTemplate, RbdBackendDriver } from '../../../src/backends/types.js';
import { cacheFileName } from '../../../src/cache/cacheFileName.js';
import { UnknownImageTypeError } from '../../../src/errors.js';
import { domainWith, validateDomain, xpath } from '../helpers/libvirt.js';
import { tempDir } from '../helpers/system.js';
import { MiB, copyingFetch, rawImage } from './helpers.js';

const UUID = '5d1e6f7a-0000-4000-8000-000000000003';

describe('Backend (nova BackendTestCase)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('backend')));
  afterEach(() => remove());

  it('test_image_flat / test_image_qcow2 / test_image_rbd: each type gives its class', () => {
    const fakeDriver = { pool: 'vms' } as RbdBackendDriver;
    const backend = new Backend({ instancesPath: dir, rbd: { driver: fakeDriver } });
    expect(backend.image({ uuid: UUID }, 'disk', 'raw')).toBeInstanceOf(Flat);
    expect(backend.image({ uuid: UUID }, 'disk', 'flat')).toBeInstanceOf(Flat);
    expect(backend.image({ uuid: UUID }, 'disk', 'qcow2')).toBeInstanceOf(Qcow2);
    const rbd = backend.image({ uuid: UUID }, 'disk', 'rbd') as Rbd;
    expect(rbd).toBeInstanceOf(Rbd);
    expect(rbd.rbdName).toBe(`${UUID}_disk`);
    expect(rbd.path).toBe(`rbd:vms/${UUID}_disk`);
  });

  it('test_image_default: qcow2 with useCowImages (the default), flat without', () => {
    expect(new Backend({ instancesPath: dir }).image({ uuid: UUID }, 'disk')).toBeInstanceOf(Qcow2);
    expect(new Backend({ instancesPath: dir, useCowImages: false }).image({ uuid: UUID }, 'disk')).toBeInstanceOf(Flat);
    expect(new Backend({ instancesPath: dir, imagesType: 'raw' }).image({ uuid: UUID }, 'disk', 'default')).toBeInstanceOf(Qcow2);
  });

  it('an unknown type is UNKNOWN_IMAGE_TYPE naming the valid ones, at construction and per call', () => {
    const error = (() => {
      try {
        new Backend({ instancesPath: dir, imagesType: 'ploop' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnknownImageTypeError);
    expect(error).toMatchObject({ code: 'UNKNOWN_IMAGE_TYPE' });
    expect((error as Error).message).toBe("Unknown image type 'ploop'; valid types are: default, flat, lvm, qcow2, raw, rbd");
    expect((error as UnknownImageTypeError).validTypes).toEqual(['default', 'flat', 'lvm', 'qcow2', 'raw', 'rbd']);
    expect(() => new Backend({ instancesPath: dir }).image({ uuid: UUID }, 'disk', 'lvm2')).toThrow(UnknownImageTypeError);
  });

  it('test_image_*_preallocate_images / native_io: preallocation sets io=native on file backends only', () => {
    const backend = new Backend({ instancesPath: dir, preallocateImages: 'space', rbd: { driver: { pool: 'vms' } as RbdBackendDriver } });
    for (const type of ['raw', 'qcow2']) {
      const image = backend.image({ uuid: UUID }, 'disk', type);
      expect(image.preallocate).toBe(true);
      expect(image.driverIo).toBe('native');
    }
    const rbd = backend.image({ uuid: UUID }, 'disk', 'rbd');
    expect(rbd.preallocate).toBe(false);
    expect(rbd.driverIo).toBeUndefined();
    expect(new Backend({ instancesPath: dir }).image({ uuid: UUID }, 'disk').preallocate).toBe(false);
  });

  it('registers a new image type with one call (how Lvm plugs in)', async () => {
    class Fake extends Image {
      constructor(context: BackendContext, location: ImageLocation) {
        super(context, {
          path: 'path' in location ? location.path : `/dev/vg/${location.instance.uuid}_${location.diskName}`,
          sourceType: 'block',
          driverFormat: 'raw',
          isBlockDev: true,
          preallocate: false,
          usesDiskInfo: false,
        });
      }
      async createImage(_p: PrepareTemplate, _b: string, _s: number | undefined): Promise<void> {}
      async resizeImage(_size: number): Promise<void> {}
    }
    Backend.register('fakeblock', Fake);
    const backend = new Backend({ instancesPath: dir, imagesType: 'fakeblock' });
    const image = backend.image({ uuid: UUID }, 'disk');
    expect(image).toBeInstanceOf(Fake);
    expect(image.path).toBe(`/dev/vg/${UUID}_disk`);
    expect(backend.snapshot('/dev/vg/x_disk').path).toBe('/dev/vg/x_disk');
    expect(Backend.types()).toContain('fakeblock');
    const xml = (await image.libvirtInfo({ diskBus: 'virtio', diskDev: 'vdb' })).toXml();
    expect(xml).toContain(`<source dev="/dev/vg/${UUID}_disk"/>`);
    expect(validateDomain(domainWith(xml)).valid).toBe(true);
  });

  it('snapshot(path) builds the image of an existing disk (by_libvirt_path)', () => {
    const backend = new Backend({ instancesPath: dir, rbd: { driver: { pool: 'vms' } as RbdBackendDriver } });
    const path = join(dir, UUID, 'disk');
    expect(backend.snapshot(path).path).toBe(path);
    expect(backend.snapshot(path, 'raw')).toBeInstanceOf(Flat);
    expect((backend.snapshot('vms/abc_disk', 'rbd') as Rbd).rbdName).toBe('abc_disk');
    expect((backend.snapshot('rbd:vms/abc_disk:id=nova', 'rbd') as Rbd).rbdName).toBe('abc_disk');
    expect(() => backend.snapshot('abc_disk', 'rbd')).toThrow(/pool\/name/);
  });

  it('refuses instance and disk names that are not one file name', () => {
    const backend = new Backend({ instancesPath: dir });
    expect(() => backend.image({ uuid: '../etc' }, 'disk')).toThrow(/instance.uuid/);
    expect(() => backend.image({ uuid: UUID }, 'a/b')).toThrow(/diskName/);
  });
});

describe('libvirtInfo of the file backends validates against libvirt schema', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('backend-xml')));
  afterEach(() => remove());

  for (const type of ['raw', 'qcow2']) {
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
    });
  }
});
