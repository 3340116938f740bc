// The option matrix of the libvirt boot test. Accepted side: every (device
// type, bus) pair the library accepts for qemu guests, times every cache mode
// (none given, and each of libvirt's six), times io (none, and native from
// preallocation, which libvirtInfo keeps or turns into threads as nova does),
// with discard (none/unmap/ignore) and the source (raw file, qcow2 overlay,
// RBD clone) rotating so each pair meets each of them; boot orders and SCSI
// units (up to the largest, 16383) on some. Each disk's XML comes from
// Image.libvirtInfo().toXml() unchanged; the disks are packed into a few
// domains (IDE holds four, the floppy controller two), defined, and started
// paused, which makes qemu open every disk with its options. Refused side:
// for every conflict LibvirtDiskConfig refuses, the library refuses it with
// INVALID_ARGUMENT, and libvirt refuses the same XML (an accepted disk's XML
// with just that setting changed) at define or start. Block sources last
// (runBlock): a loop device standing in for an LVM volume.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { define, domainXml, remove, tool, virsh } from './virsh.mjs';

const MiB = 2 ** 20;
const CACHE_MODES = [undefined, 'none', 'writeback', 'writethrough', 'directsync', 'unsafe', 'default'];
const DISCARDS = [undefined, 'unmap', 'ignore'];
// The (device, bus) pairs LibvirtDiskConfig accepts for the qemu driver, except
// lun, which needs a block device: LVM volumes, and this kernel cannot
// activate them (no device-mapper).
const PAIRS = [
  ['disk', 'virtio'], ['disk', 'scsi'], ['disk', 'ide'], ['disk', 'sata'], ['disk', 'usb'],
  ['cdrom', 'scsi'], ['cdrom', 'ide'], ['cdrom', 'sata'], ['cdrom', 'usb'],
  ['floppy', 'fdc'],
];
// Per domain: IDE has one controller of 2x2 units on pc; the floppy controller two drives.
const CAPACITY = { ide: 4, fdc: 2 };

export async function runMatrix({ lib, work, instancesPath, check, domains, nonce }) {
  const { Backend, LibvirtDiskConfig, cacheFileName } = lib;
  const started = Date.now();
  const base = join(work, 'matrix-base.raw');
  await tool('qemu-img', ['create', '-q', '-f', 'raw', base, String(MiB)]);
  const fetch = async ({ target }) => {
    await tool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', base, target]);
  };
  const e = process.env;
  const rbd = {
    pool: e.CEPH_POOL_VMS, cephConf: e.CEPH_CONF, user: e.CEPH_CLIENT_USER, keyring: e.CEPH_CLIENT_KEYRING,
    // The secret the boot test defined: the RBD disks here start too.
    secretUuid: (await virsh(['secret-list'])).trim().split(/\s+/)[0],
  };
  const imageService = {
    get: async (_c, id) => ({ id, disk_format: 'raw', locations: [{ url: `rbd://${e.CEPH_FSID}/${e.CEPH_POOL_IMAGES}/glance-${nonce}/snap` }] }),
  };
  const backendCache = new Map();
  const backendFor = (source, prealloc, discard) => {
    const key = `${source}/${prealloc}/${discard}`;
    if (!backendCache.has(key)) {
      backendCache.set(key, new Backend({
        instancesPath,
        imagesType: source === 'rbd' ? 'rbd' : source === 'qcow2' ? 'qcow2' : 'flat',
        preallocateImages: prealloc ? 'space' : 'none',
        ...(discard ? { discardMode: discard } : {}),
        ...(source === 'rbd' ? { rbd, imageService } : {}),
      }));
    }
    return backendCache.get(key);
  };

  // The accepted side: one entry per disk.
  const cases = [];
  for (const [deviceType, bus] of PAIRS) {
    let k = 0;
    for (const cacheMode of CACHE_MODES) {
      for (const prealloc of [false, true]) {
        const source = ['raw', 'qcow2', 'rbd'][k % 3];
        // RBD: no preallocation in nova; floppies and cdroms stay on files.
        const src = source === 'rbd' && (prealloc || deviceType !== 'disk' || !['virtio', 'scsi'].includes(bus)) ? 'raw' : source;
        cases.push({ deviceType, bus, cacheMode, prealloc, source: src, discard: DISCARDS[k % 3] });
        k++;
      }
    }
  }
  // Pack into domains: round-robin per bus, within the per-domain capacities.
  const domainCount = Math.max(...Object.entries(CAPACITY).map(([bus, cap]) => Math.ceil(cases.filter((c) => c.bus === bus).length / cap)));
  const packs = Array.from({ length: domainCount }, () => []);
  const perBus = {};
  for (const c of cases) {
    const i = perBus[c.bus] ?? 0;
    perBus[c.bus] = i + 1;
    packs[i % domainCount].push(c);
  }

  const refusedByLibrary = [];
  let started0 = 0;
  for (const [p, pack] of packs.entries()) {
    const names = { virtio: 0, ide: 0, fdc: 0, sd: 0 };
    let boot = 1;
    let unit = 0;
    const xmls = [];
    for (const c of pack) {
      const prefix = c.bus === 'virtio' ? 'vd' : c.bus === 'ide' ? 'hd' : c.bus === 'fdc' ? 'fd' : 'sd';
      const counter = prefix === 'vd' ? 'virtio' : prefix === 'hd' ? 'ide' : prefix === 'fd' ? 'fdc' : 'sd';
      const dev = `${prefix}${String.fromCharCode(97 + names[counter]++)}`;
      const image = backendFor(c.source, c.prealloc, c.discard).image({ uuid: randomUUID() }, 'disk');
      const imageId = c.source === 'rbd' ? 'matrix-rbd' : 'matrix-image';
      // RBD: a clone of the boot test's images snapshot, at the snapshot's size.
      await image.cache({
        fetch, filename: cacheFileName(imageId), imageId,
        ...(c.source === 'rbd' ? { clone: { context: {}, neverDownload: true } } : { size: 2 * MiB }),
      });
      // SCSI: explicit units well above the ones libvirt derives from sd* names, the largest once.
      const diskUnit = c.bus === 'scsi' && unit % 2 === 0 ? (unit === 0 && p === 0 ? 16383 : 100 + unit) : undefined;
      if (c.bus === 'scsi') unit++;
      const options = {
        diskBus: c.bus, diskDev: dev, deviceType: c.deviceType, hypervisorVersion: 7002000,
        ...(c.cacheMode ? { cacheMode: c.cacheMode } : {}),
        ...(names[counter] === 1 ? { bootOrder: boot++ } : {}),
        ...(diskUnit !== undefined ? { diskUnit } : {}),
        extraSpecs: names[counter] === 2 ? { 'quota:disk_total_iops_sec': '1000' } : {},
      };
      try {
        const config = await image.libvirtInfo(options);
        if (c.prealloc) {
          const expected = c.cacheMode === 'none' || c.cacheMode === 'directsync' ? 'native' : 'threads';
          if (config.driverIo !== expected) check(`matrix: preallocated, cache ${c.cacheMode}: io=${expected}`, false, config.toXml());
        }
        xmls.push(config.toXml());
        c.xml = config.toXml();
      } catch (error) {
        refusedByLibrary.push(`${JSON.stringify(c)}: ${error.message}`);
      }
    }
    const name = `ibt-matrix-${p}-${nonce}`;
    const xml = domainXml({
      name,
      devices: [
        "    <controller type='scsi' index='0' model='virtio-scsi'/>",
        "    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>",
        ...xmls,
      ].join('\n'),
      memoryMiB: 64,
    });
    domains.push(name);
    let outcome = 'started';
    try {
      await define(work, name, xml);
      await virsh(['start', '--paused', name], { timeoutMs: 120_000 });
      started0 += xmls.length;
    } catch (error) {
      outcome = error.message;
    }
    check(`matrix domain ${p}: ${xmls.length} disks defined and started by libvirt and qemu`, outcome === 'started', outcome);
    await remove(name);
  }
  check(`matrix: the library emits all ${cases.length} combinations`, refusedByLibrary.length === 0, refusedByLibrary.join('\n'));

  // The refused side: the library and libvirt agree.
  const accepted = (pred) => cases.find((c) => c.xml && pred(c));
  const fileNone = accepted((c) => c.deviceType === 'disk' && c.bus === 'virtio' && c.source === 'raw' && c.cacheMode === 'none' && c.prealloc);
  const qcow2 = accepted((c) => c.deviceType === 'disk' && c.bus === 'virtio' && c.source === 'qcow2');
  const rbdDisk = accepted((c) => c.source === 'rbd' && c.bus === 'scsi');
  const ideDisk = accepted((c) => c.deviceType === 'disk' && c.bus === 'ide' && c.source === 'raw');
  const sataDisk = accepted((c) => c.deviceType === 'disk' && c.bus === 'sata' && c.source === 'raw');
  const floppy = accepted((c) => c.deviceType === 'floppy');
  const plainVirtio = accepted((c) => c.deviceType === 'disk' && c.bus === 'virtio' && c.source === 'raw' && !c.prealloc && c.cacheMode === undefined);
  const options = (xml) => {
    const attr = (el, a) => new RegExp(`<${el}[^>]* ${a}="([^"]*)"`).exec(xml)?.[1];
    const source = attr('disk', 'type') === 'network'
      ? { type: 'network', protocol: 'rbd', name: attr('source', 'name'), hosts: [{ name: '127.0.0.1', port: 6789 }] }
      : { type: 'file', path: attr('source', 'file') };
    return {
      source, deviceType: attr('disk', 'device'), driverFormat: attr('driver', 'type'), targetDev: attr('target', 'dev'), targetBus: attr('target', 'bus'),
      ...(attr('driver', 'cache') ? { driverCache: attr('driver', 'cache') } : {}),
      ...(attr('driver', 'io') ? { driverIo: attr('driver', 'io') } : {}),
      readonly: /<readonly\/>/.test(xml), shareable: /<shareable\/>/.test(xml),
      ...(/<serial>/.test(xml) ? { serial: /<serial>([^<]*)</.exec(xml)[1] } : {}),
    };
  };
  const add = (xml, element) => xml.replace('</disk>', `  <${element}/>\n</disk>`);
  const conflicts = [
    ['io=native with cache writeback', fileNone.xml.replace('cache="none"', 'cache="writeback"')],
    ['io=native with cache unsafe', fileNone.xml.replace('cache="none"', 'cache="unsafe"')],
    ['io=native without a cache mode', fileNone.xml.replace(' cache="none"', '')],
    ['a cdrom on virtio', plainVirtio.xml.replace('device="disk"', 'device="cdrom"')],
    ['a lun on a file', plainVirtio.xml.replace('device="disk"', 'device="lun"').replace(/bus="virtio"/, 'bus="scsi"').replace(/dev="vd([a-z])"/, 'dev="sdz$1"')],
    ['a lun on an RBD image', rbdDisk.xml.replace('device="disk"', 'device="lun"').replace(/<address[^>]*\/>/, '')],
    ['a floppy on ide', ideDisk.xml.replace('device="disk"', 'device="floppy"')],
    ['a disk on fdc', floppy.xml.replace('device="floppy"', 'device="disk"')],
    ['bus xen', plainVirtio.xml.replace('bus="virtio"', 'bus="xen"').replace(/dev="vd/, 'dev="xvd')],
    ['bus sd', plainVirtio.xml.replace('bus="virtio"', 'bus="sd"').replace(/dev="vd/, 'dev="sd')],
    ['a read-only IDE disk', add(ideDisk.xml, 'readonly')],
    ['a read-only SATA disk', add(sataDisk.xml, 'readonly')],
    ['a writable shareable qcow2', add(qcow2.xml, 'shareable')],
    ['a serial on a floppy', floppy.xml.replace('</disk>', '  <serial>abc</serial>\n</disk>')],
  ];
  for (const [what, xml] of conflicts) {
    let libraryError;
    try {
      new LibvirtDiskConfig(options(xml));
    } catch (error) {
      libraryError = error;
    }
    check(`refused: ${what}: the library refuses it with INVALID_ARGUMENT`, libraryError?.code === 'INVALID_ARGUMENT', libraryError?.message ?? 'accepted');
    const name = `ibt-refused-${nonce}`;
    domains.push(name);
    let libvirtSays;
    const controllers = "<controller type='scsi' index='0' model='virtio-scsi'/>";
    try {
      await define(work, name, domainXml({ name, devices: `${controllers}\n${xml}`, memoryMiB: 64 }));
      try {
        await virsh(['start', '--paused', name], { timeoutMs: 120_000 });
        libvirtSays = undefined;
      } catch (error) {
        libvirtSays = `at start: ${error.virshError ?? error.message}`;
      }
    } catch (error) {
      libvirtSays = `at define: ${error.virshError ?? error.message}`;
    }
    await remove(name);
    check(`refused: ${what}: libvirt refuses it too`, libvirtSays !== undefined, 'libvirt started it');
    if (libvirtSays) console.log(`     libvirt, ${libvirtSays.split('\n').slice(0, 2).join(' ').slice(0, 200)}`);
  }
  await runBlock({ lib, work, check, domains, nonce });
  for (const b of backendCache.values()) await b.close().catch(() => {});
  console.log(`matrix: ${started0} disks started in ${packs.length} domains, ${conflicts.length} conflicts checked, ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// Block sources: LVM volumes in production, which this kernel cannot
// activate (no device-mapper). A loop device stands in, configured with
// LibvirtDiskConfig directly as the Lvm backend does (raw, io native for
// dense volumes through effectiveDriverIo, none for sparse): every cache
// mode, shareable so that the disks can all be the one device. A lun on it
// is defined only: qemu's scsi-block needs SG_IO, which loop devices lack.
async function runBlock({ lib, work, check, domains, nonce }) {
  const { LibvirtDiskConfig, effectiveDriverIo } = lib;
  const file = join(work, 'block.img');
  await tool('qemu-img', ['create', '-q', '-f', 'raw', file, String(8 * MiB)]);
  const dev = (await tool('losetup', ['--find', '--show', file])).trim();
  try {
    const source = { type: 'block', dev };
    const xmls = [];
    for (const [i, cacheMode] of CACHE_MODES.entries()) {
      for (const dense of [true, false]) {
        const io = effectiveDriverIo(dense ? 'native' : undefined, cacheMode);
        const bus = dense ? 'virtio' : 'scsi';
        const targetDev = `${dense ? 'vd' : 'sd'}${String.fromCharCode(97 + i)}`;
        xmls.push(new LibvirtDiskConfig({
          source, driverFormat: 'raw', targetDev, targetBus: bus, shareable: true,
          ...(cacheMode ? { driverCache: cacheMode } : {}), ...(io ? { driverIo: io } : {}),
        }).toXml());
      }
    }
    const controllers = "    <controller type='scsi' index='0' model='virtio-scsi'/>";
    const name = `ibt-block-${nonce}`;
    domains.push(name);
    let outcome = 'started';
    try {
      await define(work, name, domainXml({ name, devices: [controllers, ...xmls].join('\n'), memoryMiB: 64 }));
      await virsh(['start', '--paused', name], { timeoutMs: 120_000 });
    } catch (error) {
      outcome = error.message;
    }
    await remove(name);
    check(`block device: ${xmls.length} disks (every cache mode, dense and sparse) defined and started`, outcome === 'started', outcome);

    const lun = new LibvirtDiskConfig({ source, deviceType: 'lun', driverFormat: 'raw', targetDev: 'sda', targetBus: 'scsi' }).toXml();
    const lunName = `ibt-lun-${nonce}`;
    domains.push(lunName);
    outcome = 'defined';
    try {
      await define(work, lunName, domainXml({ name: lunName, devices: `${controllers}\n${lun}`, memoryMiB: 64 }));
    } catch (error) {
      outcome = error.message;
    }
    await remove(lunName);
    check('block device: a lun on scsi is defined by libvirt', outcome === 'defined', outcome);
  } finally {
    await tool('losetup', ['-d', dev]).catch(() => {});
  }
}
