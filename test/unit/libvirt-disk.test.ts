import { describe, expect, it } from 'vitest';
import { DISK_FORMATS } from '../../src/diskinfo/index.js';
import { Backend } from '../../src/backends/Backend.js';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  LibvirtDiskConfig,
  XmlElement,
  effectiveDriverIo,
  ioTuneFromExtraSpecs,
  type DiskCacheMode,
  type LibvirtDiskConfigOptions,
} from '../../src/libvirt/index.js';
import { domainWith, validateDomain, xpath } from './helpers/libvirt.js';

const SECRET = '5b3c1b4e-8a9c-4f3e-9d7a-3c1b2a4e5f60';

function expectValid(config: LibvirtDiskConfig): void {
  const { valid, output } = validateDomain(domainWith(config.toXml()));
  expect(output).toMatch(/validates/);
  expect(valid).toBe(true);
}

describe('LibvirtDiskConfig XML', () => {
  it('renders a qcow2 file disk (Qcow2 backend)', () => {
    const config = new LibvirtDiskConfig({
      source: { type: 'file', path: '/var/lib/nova/instances/uuid/disk' },
      driverFormat: 'qcow2',
      driverCache: 'none',
      driverIo: 'native',
      driverDiscard: 'unmap',
      targetDev: 'vda',
      targetBus: 'virtio',
      bootOrder: 1,
    });
    expect(config.toXml()).toBe(
      [
        '<disk type="file" device="disk">',
        '  <driver name="qemu" type="qcow2" cache="none" discard="unmap" io="native"/>',
        '  <source file="/var/lib/nova/instances/uuid/disk"/>',
        '  <target dev="vda" bus="virtio"/>',
        '  <boot order="1"/>',
        '</disk>',
      ].join('\n'),
    );
    expectValid(config);
  });

  it('renders a raw file disk with only the required parts (Flat backend)', () => {
    const config = new LibvirtDiskConfig({
      source: { type: 'file', path: '/var/lib/nova/instances/uuid/disk.local' },
      driverFormat: 'raw',
      targetDev: 'vdb',
      targetBus: 'virtio',
    });
    expect(config.toXml()).toBe(
      [
        '<disk type="file" device="disk">',
        '  <driver name="qemu" type="raw"/>',
        '  <source file="/var/lib/nova/instances/uuid/disk.local"/>',
        '  <target dev="vdb" bus="virtio"/>',
        '</disk>',
      ].join('\n'),
    );
    expectValid(config);
  });

  it('renders a block disk on a SCSI unit (Lvm backend)', () => {
    const config = new LibvirtDiskConfig({
      source: { type: 'block', dev: '/dev/nova-vg/uuid_disk' },
      driverFormat: 'raw',
      driverCache: 'none',
      driverIo: 'native',
      targetDev: 'sda',
      targetBus: 'scsi',
      diskUnit: 3,
      serial: 'vol-1234 abc',
    });
    expect(config.toXml()).toBe(
      [
        '<disk type="block" device="disk">',
        '  <driver name="qemu" type="raw" cache="none" io="native"/>',
        '  <source dev="/dev/nova-vg/uuid_disk"/>',
        '  <target dev="sda" bus="scsi"/>',
        '  <serial>vol-1234 abc</serial>',
        '  <address type="drive" controller="0" bus="0" target="0" unit="3"/>',
        '</disk>',
      ].join('\n'),
    );
    const devices = `${config.toXml()}\n<controller type="scsi" index="0" model="virtio-scsi"/>`;
    expect(validateDomain(domainWith(devices)).valid).toBe(true);
  });

  it('renders an RBD network disk with monitors and cephx auth (Rbd backend)', () => {
    const config = new LibvirtDiskConfig({
      source: {
        type: 'network',
        protocol: 'rbd',
        name: 'vms/3f1c_disk',
        hosts: [{ name: '10.0.0.1', port: 6789 }, { name: 'mon2.example.org', port: 3300 }, { name: '2001:db8::1' }],
      },
      auth: { username: 'nova', secretType: 'ceph', secretUuid: SECRET },
      driverFormat: 'raw',
      driverCache: 'writeback',
      driverDiscard: 'unmap',
      targetDev: 'vda',
      targetBus: 'virtio',
    });
    expect(config.toXml()).toBe(
      [
        '<disk type="network" device="disk">',
        '  <driver name="qemu" type="raw" cache="writeback" discard="unmap"/>',
        '  <source protocol="rbd" name="vms/3f1c_disk">',
        '    <host name="10.0.0.1" port="6789"/>',
        '    <host name="mon2.example.org" port="3300"/>',
        '    <host name="2001:db8::1"/>',
        '  </source>',
        '  <auth username="nova">',
        `    <secret type="ceph" uuid="${SECRET}"/>`,
        '  </auth>',
        '  <target dev="vda" bus="virtio"/>',
        '</disk>',
      ].join('\n'),
    );
    expectValid(config);
  });

  it('renders a read-only shareable cdrom, and iotune from extra specs', () => {
    const config = LibvirtDiskConfig.fromExtraSpecs(
      {
        source: { type: 'file', path: '/var/lib/nova/instances/uuid/disk.config' },
        deviceType: 'cdrom',
        driverFormat: 'raw',
        targetDev: 'hda',
        targetBus: 'ide',
        readonly: true,
        shareable: true,
      },
      {
        'quota:disk_read_bytes_sec': '10485760',
        'quota:disk_write_bytes_sec': 5242880,
        'quota:disk_total_iops_sec': '500',
        'quota:cpu_shares': '1024',
        'hw:cpu_policy': 'dedicated',
      },
    );
    expect(config.toXml()).toBe(
      [
        '<disk type="file" device="cdrom">',
        '  <driver name="qemu" type="raw"/>',
        '  <source file="/var/lib/nova/instances/uuid/disk.config"/>',
        '  <target dev="hda" bus="ide"/>',
        '  <iotune>',
        '    <read_bytes_sec>10485760</read_bytes_sec>',
        '    <write_bytes_sec>5242880</write_bytes_sec>',
        '    <total_iops_sec>500</total_iops_sec>',
        '  </iotune>',
        '  <readonly/>',
        '  <shareable/>',
        '</disk>',
      ].join('\n'),
    );
    expectValid(config);
  });

  it("renders all six iotune limits in libvirt's order, each validated by libvirt", () => {
    const readWrite = LibvirtDiskConfig.fromExtraSpecs(
      { source: { type: 'file', path: '/d' }, targetDev: 'vda', targetBus: 'virtio' },
      {
        'quota:disk_read_bytes_sec': '1',
        'quota:disk_read_iops_sec': '2',
        'quota:disk_write_bytes_sec': '3',
        'quota:disk_write_iops_sec': '4',
      },
    );
    expect(readWrite.toXml()).toContain(
      [
        '  <iotune>',
        '    <read_bytes_sec>1</read_bytes_sec>',
        '    <write_bytes_sec>3</write_bytes_sec>',
        '    <read_iops_sec>2</read_iops_sec>',
        '    <write_iops_sec>4</write_iops_sec>',
        '  </iotune>',
      ].join('\n'),
    );
    expectValid(readWrite);
    const totals = LibvirtDiskConfig.fromExtraSpecs(
      { source: { type: 'file', path: '/d' }, targetDev: 'vda', targetBus: 'virtio' },
      { 'quota:disk_total_bytes_sec': '1000000000000000', 'quota:disk_total_iops_sec': '6' },
    );
    expect(totals.iotune).toEqual({ totalBytesSec: 1e15, totalIopsSec: 6 });
    expectValid(totals);
  });

  it('validates every driver format it accepts against libvirt', () => {
    const disks = DISK_FORMATS.map((format, i) =>
      new LibvirtDiskConfig({
        source: { type: 'file', path: `/d/${format}` },
        driverFormat: format,
        targetDev: `vd${String.fromCharCode(97 + i)}`,
        targetBus: 'virtio',
      }).toXml(),
    );
    const result = validateDomain(domainWith(disks.join('\n')));
    expect(result.output).toMatch(/validates/);
  });

  it('escapes hostile values so a parser reads them back unchanged, and libvirt validates them', () => {
    const hostile = `/var/lib/nova/instances/<&"'>/a]]>b\tc/disk`;
    const config = new LibvirtDiskConfig({ source: { type: 'file', path: hostile }, targetDev: 'vda', targetBus: 'virtio' });
    const xml = config.toXml();
    expect(xml).toContain('<source file="/var/lib/nova/instances/&lt;&amp;&quot;&apos;&gt;/a]]&gt;b&#9;c/disk"/>');
    expect(xpath(xml, 'string(/disk/source/@file)').replace(/\n$/, '')).toBe(hostile);
    expect(xpath(xml, 'count(/disk/*)').trim()).toBe('3'); // nothing injected
    expectValid(config);

    const block = new LibvirtDiskConfig({ source: { type: 'block', dev: `/dev/disk/by-id/x"/><source file="/etc/shadow` }, targetDev: 'vda', targetBus: 'virtio' });
    expect(xpath(block.toXml(), 'count(/disk/source)').trim()).toBe('1');
    expectValid(block);
  });

  it('escapes text content, and line breaks in attributes so they survive parsing', () => {
    expect(XmlElement.text('serial', 'a<b>&c').toString()).toBe('<serial>a&lt;b&gt;&amp;c</serial>');
    const element = new XmlElement('x', { a: 'one\ntwo\r\tthree' });
    expect(element.toString()).toBe('<x a="one&#10;two&#13;&#9;three"/>');
    expect(xpath(element.toString(), 'string(/x/@a)')).toContain('one\ntwo\r\tthree');
  });

  it('refuses line breaks in paths, which libvirt\'s schema does not admit', () => {
    expect(() => new LibvirtDiskConfig({ source: { type: 'file', path: '/a\nb' }, targetDev: 'vda', targetBus: 'virtio' })).toThrow(
      /Expected an absolute path without line breaks for source.path/,
    );
    // The schema indeed refuses one.
    const raw = domainWith('<disk type="file" device="disk"><source file="/a&#10;b"/><target dev="vda" bus="virtio"/></disk>');
    expect(validateDomain(raw).valid).toBe(false);
  });

  it('refuses characters XML cannot carry', () => {
    expect(() => new XmlElement('source', { file: '/a\u0001b' })).toThrow(/Expected text XML can carry/);
    expect(() => new LibvirtDiskConfig({ source: { type: 'file', path: '/a\0b' }, targetDev: 'vda', targetBus: 'virtio' })).toThrow(
      /Expected an absolute path without line breaks for source.path/,
    );
    expect(() => new XmlElement('x', { a: '\uD800' })).toThrow(/XML can carry/);
    expect(new XmlElement('x', { a: '\u{1F600}' }).toString()).toBe('<x a="\u{1F600}"/>');
  });
});

describe('ioTuneFromExtraSpecs', () => {
  it('maps exactly the six quota:disk_* keys and ignores the rest', () => {
    expect(
      ioTuneFromExtraSpecs({
        'quota:disk_read_bytes_sec': '1',
        'quota:disk_read_iops_sec': '2',
        'quota:disk_write_bytes_sec': '3',
        'quota:disk_write_iops_sec': '4',
        'quota:disk_read_bytes_sec_max': 'anything',
        'quota:disk_total_bytes_sec_max': '7',
        'quota:vif_inbound_average': '9',
        disk_read_bytes_sec: '11',
        'quota:disk_read_bytes_sec:x': '12',
      }),
    ).toEqual({ readBytesSec: 1, readIopsSec: 2, writeBytesSec: 3, writeIopsSec: 4 });
    expect(ioTuneFromExtraSpecs({})).toEqual({});
    expect(ioTuneFromExtraSpecs(undefined)).toEqual({});
  });

  it.each([['0'], ['-1'], ['1.5'], ['1e3'], [' 5'], ['abc'], [''], [0], [1.5], [2e15], [null], [true]])(
    'refuses %j as a limit',
    (value) => {
      expect(() => ioTuneFromExtraSpecs({ 'quota:disk_write_iops_sec': value })).toThrow(
        /^Expected a positive integer up to 1000000000000000 for quota:disk_write_iops_sec but received/,
      );
    },
  );

  it('refuses a total limit beside a read or write limit of its kind, as qemu does', () => {
    expect(() => ioTuneFromExtraSpecs({ 'quota:disk_total_bytes_sec': '1', 'quota:disk_read_bytes_sec': '1' })).toThrow(
      /either a total or read\/write bytes limit/,
    );
    expect(() => ioTuneFromExtraSpecs({ 'quota:disk_total_iops_sec': '1', 'quota:disk_write_iops_sec': '1' })).toThrow(/iops/);
    expect(ioTuneFromExtraSpecs({ 'quota:disk_total_iops_sec': '1', 'quota:disk_read_bytes_sec': '1' })).toEqual({
      totalIopsSec: 1,
      readBytesSec: 1,
    });
  });

  it('and libvirt agrees that such a combination is invalid', () => {
    const xml = domainWith(
      '<disk type="file" device="disk"><source file="/d"/><target dev="vda" bus="virtio"/>' +
        '<iotune><total_bytes_sec>1</total_bytes_sec><read_bytes_sec>1</read_bytes_sec></iotune></disk>',
    );
    expect(validateDomain(xml).valid).toBe(false);
  });
});

describe('LibvirtDiskConfig validation', () => {
  const base: LibvirtDiskConfigOptions = { source: { type: 'file', path: '/d' }, targetDev: 'vda', targetBus: 'virtio' };
  it.each<[string, Partial<LibvirtDiskConfigOptions>, RegExp]>([
    ['a relative path', { source: { type: 'file', path: 'disk' } }, /absolute path without line breaks for source.path/],
    ['an unknown source type', { source: { type: 'nfs' } as never }, /source.type/],
    ['another network protocol', { source: { type: 'network', protocol: 'iscsi', name: 'a/b', hosts: [] } as never }, /source.protocol/],
    ['an RBD name without pool', { source: { type: 'network', protocol: 'rbd', name: 'image', hosts: [] } }, /pool\/image/],
    ['an RBD name with a snapshot', { source: { type: 'network', protocol: 'rbd', name: 'p/i@snap', hosts: [] } }, /pool\/image/],
    ['a bad host', { source: { type: 'network', protocol: 'rbd', name: 'p/i', hosts: [{ name: 'a b' }] } }, /source.hosts\[0\].name/],
    ['a bad port', { source: { type: 'network', protocol: 'rbd', name: 'p/i', hosts: [{ name: 'a', port: 70000 }] } }, /source.hosts\[0\].port/],
    ['a bad target dev', { targetDev: 'disk0' }, /targetDev/],
    ['a bad bus', { targetBus: 'nvme' as never }, /Expected one of virtio, scsi.* for targetBus but received 'nvme'/],
    ['a bad cache mode', { driverCache: 'fast' as never }, /driverCache/],
    ['a bad io mode', { driverIo: 'aio' as never }, /driverIo/],
    ['a bad discard mode', { driverDiscard: 'on' as never }, /driverDiscard/],
    ['an unknown format', { driverFormat: 'vhdx' as never }, /driverFormat/],
    ['boot order 0', { bootOrder: 0 }, /bootOrder/],
    ['a disk unit off the SCSI bus', { diskUnit: 1 }, /no diskUnit unless targetBus is scsi/],
    ['a serial with markup', { serial: '<x>' }, /serial/],
    ['auth on a file disk', { auth: { username: 'nova', secretType: 'ceph', secretUuid: SECRET } }, /auth only for a network source/],
    ['a bad secret uuid', { source: { type: 'network', protocol: 'rbd', name: 'p/i', hosts: [] }, auth: { username: 'nova', secretType: 'ceph', secretUuid: 'x' } }, /auth.secretUuid/],
    ['a dotted user', { source: { type: 'network', protocol: 'rbd', name: 'p/i', hosts: [] }, auth: { username: 'client.nova', secretType: 'ceph', secretUuid: SECRET } }, /auth.username/],
    ['an unknown iotune field', { iotune: { readBytesSecMax: 1 } as never }, /IoTune field/],
  ])('refuses %s', (_, override, message) => {
    expect(() => new LibvirtDiskConfig({ ...base, ...override })).toThrow(message);
  });

  it('is immutable', () => {
    const config = new LibvirtDiskConfig(base);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.source)).toBe(true);
    expect(() => {
      (config as { targetDev: string }).targetDev = 'vdz';
    }).toThrow();
  });
});

describe('the schema validation helper', () => {
  it('fails, naming the package, when the validator is missing', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => validateDomain(domainWith(''))).toThrow(/install the Debian package libxml2-utils/);
    } finally {
      process.env.PATH = path;
    }
  });
});

// Each refusal below was first seen from a running libvirtd 9.0 / qemu 7.2
// (scripts/libvirt-boot-test.sh re-checks every one against them): the
// library refuses the combination up front, naming the conflict.
describe('LibvirtDiskConfig refuses what libvirt or qemu would refuse', () => {
  const file: LibvirtDiskConfigOptions = { source: { type: 'file', path: '/d' }, driverFormat: 'raw', targetDev: 'vda', targetBus: 'virtio' };
  const block: LibvirtDiskConfigOptions = { ...file, source: { type: 'block', dev: '/dev/vg/lv' } };
  const rbd: LibvirtDiskConfigOptions = { ...file, source: { type: 'network', protocol: 'rbd', name: 'vms/x', hosts: [{ name: '10.0.0.1' }] } };
  it.each<[string, LibvirtDiskConfigOptions, RegExp]>([
    ...(['writeback', 'writethrough', 'unsafe', 'default'] as const).map((cache): [string, LibvirtDiskConfigOptions, RegExp] => [
      `io=native with cache ${cache}`,
      { ...file, driverIo: 'native', driverCache: cache },
      new RegExp(`driverCache 'none' or 'directsync' with driverIo 'native'.*for driverCache but received '${cache}'`),
    ]),
    ['io=native without a cache mode', { ...file, driverIo: 'native' }, /driverCache 'none' or 'directsync' with driverIo 'native'.*received undefined/],
    ['io=native with cache writeback on a block device', { ...block, driverIo: 'native', driverCache: 'writeback' }, /with driverIo 'native'/],
    ['a cdrom on virtio', { ...file, deviceType: 'cdrom' }, /targetBus other than 'virtio' with deviceType 'cdrom'.*received 'virtio'/],
    ['a lun on a file', { ...file, deviceType: 'lun', targetBus: 'scsi', targetDev: 'sda' }, /source of type 'block' with deviceType 'lun'.*received 'file'/],
    ['a lun on an RBD image', { ...rbd, deviceType: 'lun', targetBus: 'scsi', targetDev: 'sda' }, /source of type 'block' with deviceType 'lun'.*received 'network'/],
    ['a lun on ide', { ...block, deviceType: 'lun', targetBus: 'ide', targetDev: 'hda' }, /targetBus 'virtio' or 'scsi' with deviceType 'lun'.*received 'ide'/],
    ['a lun on sata', { ...block, deviceType: 'lun', targetBus: 'sata', targetDev: 'sda' }, /targetBus 'virtio' or 'scsi' with deviceType 'lun'.*received 'sata'/],
    ['a floppy on ide', { ...file, deviceType: 'floppy', targetBus: 'ide', targetDev: 'hda' }, /targetBus 'fdc' with deviceType 'floppy'.*received 'ide'/],
    ['a disk on fdc', { ...file, targetBus: 'fdc', targetDev: 'fda' }, /deviceType 'floppy' on targetBus 'fdc'.*received 'disk'/],
    ['a cdrom on fdc', { ...file, deviceType: 'cdrom', targetBus: 'fdc', targetDev: 'fda' }, /deviceType 'floppy' on targetBus 'fdc'.*received 'cdrom'/],
    ['bus xen with the qemu driver', { ...file, targetBus: 'xen', targetDev: 'xvda' }, /bus other than 'xen' with driverName 'qemu'.*received 'xen'/],
    ['bus sd with the qemu driver', { ...file, targetBus: 'sd', targetDev: 'sda' }, /bus other than 'sd' with driverName 'qemu'.*received 'sd'/],
    ['a read-only IDE disk', { ...file, targetBus: 'ide', targetDev: 'hda', readonly: true }, /no readonly with deviceType 'disk' on targetBus 'ide'/],
    ['a read-only SATA disk', { ...file, targetBus: 'sata', targetDev: 'sda', readonly: true }, /no readonly with deviceType 'disk' on targetBus 'sata'/],
    ['a writable shareable qcow2', { ...file, driverFormat: 'qcow2', shareable: true }, /driverFormat 'raw' \(or readonly\) with shareable.*received 'qcow2'/],
    ['a serial on a floppy', { ...file, deviceType: 'floppy', targetBus: 'fdc', targetDev: 'fda', serial: 'abc' }, /no serial with deviceType 'floppy'/],
  ])('refuses %s with INVALID_ARGUMENT naming the conflict', (_, options, message) => {
    let error: unknown;
    try {
      new LibvirtDiskConfig(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
  });

  it.each<[string, LibvirtDiskConfigOptions]>([
    ['io=native with cache none', { ...file, driverIo: 'native', driverCache: 'none' }],
    ['io=native with cache directsync', { ...file, driverIo: 'native', driverCache: 'directsync' }],
    ['io=threads or io_uring with any cache mode', { ...file, driverIo: 'io_uring', driverCache: 'writeback' }],
    ['a cdrom on ide, sata, scsi or usb', { ...file, deviceType: 'cdrom', targetBus: 'usb', targetDev: 'sda' }],
    ['a lun on a block device on scsi', { ...block, deviceType: 'lun', targetBus: 'scsi', targetDev: 'sda' }],
    ['a floppy on fdc', { ...file, deviceType: 'floppy', targetBus: 'fdc', targetDev: 'fda', readonly: true }],
    ['a read-only cdrom on ide', { ...file, deviceType: 'cdrom', targetBus: 'ide', targetDev: 'hda', readonly: true }],
    ['a read-only virtio or scsi disk', { ...file, targetBus: 'scsi', targetDev: 'sda', readonly: true }],
    ['a shareable raw disk', { ...file, shareable: true, driverCache: 'writeback' }],
    ['a shareable read-only qcow2', { ...file, driverFormat: 'qcow2', shareable: true, readonly: true }],
    ['a shareable disk of unstated format (libvirt takes it as raw)', { ...file, driverFormat: undefined, shareable: true }],
  ])('accepts %s, which libvirt starts', (_, options) => {
    expectValid(new LibvirtDiskConfig(options));
  });
});

describe('effectiveDriverIo (nova: io=native only where the cache mode allows it)', () => {
  it.each<[DiskCacheMode | undefined, string]>([
    ['none', 'native'],
    ['directsync', 'native'],
    ['writeback', 'threads'],
    ['writethrough', 'threads'],
    ['unsafe', 'threads'],
    ['default', 'threads'],
    [undefined, 'threads'],
  ])('native with cache %s gives %s', (cache, io) => {
    expect(effectiveDriverIo('native', cache)).toBe(io);
  });

  it('leaves other io modes, and no io mode, as they are', () => {
    for (const cache of ['none', 'writeback', undefined] as const) {
      expect(effectiveDriverIo(undefined, cache)).toBeUndefined();
      expect(effectiveDriverIo('threads', cache)).toBe('threads');
      expect(effectiveDriverIo('io_uring', cache)).toBe('io_uring');
    }
  });

  it('Disk.libvirtInfo applies it: a preallocated disk keeps io=native only with cache none or directsync', async () => {
    const backend = new Backend({ instancesPath: '/nonexistent/instances', imagesType: 'flat', preallocateImages: 'space' });
    const disk = backend.image({ uuid: 'abc' }, 'disk');
    expect(disk.store.driverIo).toBe('native');
    const io = async (cacheMode?: DiskCacheMode) =>
      (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', ...(cacheMode ? { cacheMode } : {}) })).driverIo;
    expect(await io('none')).toBe('native');
    expect(await io('directsync')).toBe('native');
    expect(await io('writeback')).toBe('threads');
    expect(await io('unsafe')).toBe('threads');
    expect(await io()).toBe('threads');
  });
});
