// The package's public surface, on purpose: what the root exports, what the
// subpaths export, that no internal leaks and that no name means two things.
// Runs against src/ and, when built, the dist/ entry points package.json names.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { RbdStore } from '../../src/backends/RbdStore.js';
import * as pkg from '../../src/index.js';
import * as nova from '../../src/nova.js';
import { RbdDriver } from '../../src/rbd/RbdDriver.js';
import * as xml from '../../src/xml.js';

const root = join(import.meta.dirname, '..', '..');

// Runtime values the root exports (types leave no trace at run time).
const ROOT_VALUES = [
  // errors
  'AbortError', 'BlockDeviceError', 'CacheError', 'CopyFailedError', 'DiskInfoIoError', 'DiskInfoReadError',
  'DiskInfoWriteError', 'DiskNotFoundError', 'FetchFailedError', 'FilesystemResizeError', 'FlavorDiskTooSmallError',
  'ImageBackendError', 'ImageInvalidError', 'ImageIoError', 'ImageUnacceptableError', 'ImageUnsafeError',
  'InvalidArgumentError', 'InvalidDiskInfoError', 'LibraryNotFoundError', 'LockCompromisedError', 'LockError',
  'LockTimeoutError', 'LvmError', 'LvmExistsError', 'LvmNoSpaceError', 'LvmNotConfiguredError', 'LvmNotFoundError',
  'NativeLoadError', 'NotSupportedError', 'QemuImgError', 'QemuImgTimeoutError', 'RbdAuthNotConfiguredError',
  'RbdBusyError', 'RbdClosedError', 'RbdError', 'RbdExistsError', 'RbdNotFoundError', 'RbdPermissionError',
  'RbdTimeoutError', 'ToolNotFoundError', 'UnknownImageTypeError', 'UnsupportedFileTypeError', 'VolumesNotRemovedError',
  // the image service and the image pipeline's refusals
  'ImageServiceError', 'ImageNotFoundError', 'ImageServiceUnauthorizedError', 'ImageServiceForbiddenError',
  'ImageServiceConflictError', 'ImageServiceUnavailableError', 'ImageServiceTimeoutError', 'ImageServiceFailedError',
  'ImageRefusedError', 'ImageNotActiveError', 'ImageTooLargeError', 'ImageChecksumMismatchError',
  'ImageSizeMismatchError', 'ImageFormatMismatchError',
  // rbd
  'RbdCluster', 'RbdPool', 'RbdImage',
  // image, blockdev, qemu
  'inspect', 'assertSafe', 'createQcow2Overlay', 'DEFAULT_VMDK_ALLOWED_TYPES',
  'blockDeviceSize', 'zeroRange', 'discardRange', 'overwriteRandom', 'fallocateFile', 'copyRawData',
  'QemuImg', 'rbdFilename', 'DEFAULT_TIMEOUT_MS', 'DEFAULT_LIMITS', 'supportsDirectIo',
  // cache, disk.info, verify
  'BaseImageCache', 'ImageCacheManager', 'Locks', 'cacheFileName', 'parseBaseFileName', 'ephemeralFileName',
  'ephemeralFileExtension', 'swapFileName',
  'DiskInfo', 'DISK_INFO_FILENAME', 'DISK_FORMATS', 'isDiskFormat', 'verifyBaseSize',
  // libvirt
  'LibvirtDiskConfig', 'ioTuneFromExtraSpecs', 'checkIoTune', 'effectiveDriverIo', 'IOTUNE_EXTRA_SPECS', 'IOTUNE_MAX',
  // backends: the stores, the disk handle, the policy
  'Backend', 'Disk', 'provision', 'FileStore', 'FlatStore', 'Qcow2Store', 'LvmStore', 'RbdStore',
  'RbdBaseImages', 'RBD_BASE_PREFIX',
  'canClone', 'canDirectSnapshot', 'canHoldBases', 'canImportFile', 'canSnapshot',
  // the image pipeline
  'GlanceImageService', 'fetchToRaw', 'fetchToRbd', 'imageServiceFetch', 'DiskOpsLimiter', 'verifyImageFile',
  'qemuFormatOf', 'expectedHash',
  // lvm
  'Lvm2Driver', 'LvmCliRunner', 'LvmLibRunner', 'SPARSE_PREALLOCATION', 'hasDeviceMapper', 'checkLogicalVolumeName',
  'checkVolumeGroupName', 'checkVolumeNames', 'escapeDiskName', 'parseVolumePath', 'volumeName', 'volumePath',
  'createLvmDriver', 'resolveLvmOptions', 'growFilesystem', 'baseImageSize', 'deleteVolumes', 'provisionFromBase',
  'provisionGenerated', 'writeBase',
  // names
  'checkFileName', 'checkRbdName', 'MAX_FILE_NAME_BYTES', 'MAX_RBD_NAME_BYTES', 'MAX_LVM_NAME_BYTES',
  'MAX_LVM_PAIR_CHARS',
].sort();

const NOVA_VALUES = ['RbdDriver', 'RESIZE_SNAPSHOT_NAME', 'parseRbdUrl'].sort();
const XML_VALUES = ['XmlElement', 'escapeAttribute', 'escapeText'].sort();

// Internals that used to be root exports and must stay out of it.
const INTERNAL = [
  'KeyedMutex', 'ProgressParser', 'PARTIAL_INFIX', 'splitAddr', 'parseMonMap', 'invalidArgument', 'isNativeError',
  'XmlElement', 'runQemuImg', 'fromNative', 'callNative', 'rbdCall',
  // nova's names live in imagebackend/nova only
  'RbdDriver', 'RESIZE_SNAPSHOT_NAME', 'parseRbdUrl',
  // names that meant two things
  'RbdImageBackend',
];

describe('public exports', () => {
  it('the root exports exactly the deliberate surface', () => {
    expect(Object.keys(pkg).sort()).toEqual(ROOT_VALUES);
    for (const name of INTERNAL) expect(pkg, name).not.toHaveProperty(name);
  });

  it("imagebackend/nova holds nova's RBDDriver names; imagebackend/xml the XML builder", () => {
    expect(Object.keys(nova).sort()).toEqual(NOVA_VALUES);
    expect(nova.RbdDriver).toBe(RbdDriver);
    expect(nova.parseRbdUrl('rbd://f/images/id/snap')).toEqual({ fsid: 'f', pool: 'images', image: 'id', snapshot: 'snap' });
    expect(Object.keys(xml).sort()).toEqual(XML_VALUES);
    const disk = new pkg.LibvirtDiskConfig({ source: { type: 'file', path: '/d' }, targetDev: 'vda', targetBus: 'virtio' });
    expect(disk.toElement()).toBeInstanceOf(xml.XmlElement);
  });

  it('no name means two things: the rbd disk store is RbdStore, the RBD handles are RbdCluster/RbdPool/RbdImage', () => {
    expect(pkg.RbdStore).toBe(RbdStore);
    for (const cls of [pkg.FlatStore, pkg.Qcow2Store, pkg.LvmStore, pkg.RbdStore]) expect(typeof cls).toBe('function');
    expect(Object.getPrototypeOf(pkg.FlatStore)).toBe(pkg.FileStore);
    expect(Object.getPrototypeOf(pkg.Qcow2Store)).toBe(pkg.FileStore);
    expect(new pkg.Backend({ instancesPath: '/nonexistent', imagesType: 'rbd' }).storeClass()).toBe(RbdStore);
    expect(typeof pkg.Disk).toBe('function');
    expect(typeof pkg.provision).toBe('function');
    expect(typeof pkg.RbdCluster.connect).toBe('function');
    expect(pkg).not.toHaveProperty('Rbd');
  });

  it('every error class the root exports is the same class errors.ts defines, each with its code', () => {
    const errorClasses = ROOT_VALUES.filter((n) => n.endsWith('Error') && n !== 'ImageBackendError');
    for (const name of errorClasses) {
      const cls = (pkg as Record<string, unknown>)[name] as { prototype: unknown; code?: string };
      expect(cls.prototype, name).toBeInstanceOf(pkg.ImageBackendError);
      // The abstract parents of a family (disk.info I/O, the image service, the
      // pipeline's refusals) have none; every other class has its own.
      if (!['DiskInfoIoError', 'ImageServiceError', 'ImageRefusedError'].includes(name)) expect(cls.code, name).toMatch(/^[A-Z_]+$/);
    }
  });

  it('package.json maps ".", "./nova" and "./xml" to built entry points with declarations', async () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; default: string }>;
    };
    expect(Object.keys(manifest.exports).sort()).toEqual(['.', './nova', './package.json', './xml']);
    const entries = { '.': 'index', './nova': 'nova', './xml': 'xml' } as const;
    for (const [subpath, file] of Object.entries(entries)) {
      expect(manifest.exports[subpath]).toEqual({ types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` });
      expect(existsSync(join(root, 'src', `${file}.ts`))).toBe(true);
    }
    // The built package, when dist/ is there (npm run build:ts): the same names.
    if (existsSync(join(root, 'dist', 'nova.js'))) {
      const built = (await import(join(root, 'dist', 'nova.js'))) as Record<string, unknown>;
      expect(Object.keys(built).sort()).toEqual(NOVA_VALUES);
      const builtRoot = (await import(join(root, 'dist', 'index.js'))) as Record<string, unknown>;
      expect(Object.keys(builtRoot).sort()).toEqual(ROOT_VALUES);
    }
  });
});
