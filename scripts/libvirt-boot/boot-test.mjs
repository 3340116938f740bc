// The libvirt boot test proper, run by scripts/libvirt-boot-test.sh with a
// Ceph cluster (CEPH_* variables), a libvirtd (LIBVIRT_DEFAULT_URI), a
// kernel and an initramfs (IBT_*). Through the library's public API (dist/):
// a qcow2 overlay, a raw Flat disk, a preallocated raw Flat disk, an RBD
// clone of an `images` snapshot and an RBD import, each of its own flavor
// size with its own `quota:disk_*` specs; their XML from libvirtInfo().toXml()
// unchanged in one domain; a libvirt secret with the uuid the XML names.
// Checks: the guest reads the base's marker bytes at the start and deep
// inside every disk and sees the flavor size; the sector it writes is read
// back on the host (qemu-img for files, librbd for RBD); the cached bases
// and the parent snapshot are unchanged; `virsh blkdeviotune` equals the
// flavor's specs. Then an RBD disk with cephx but no secret uuid must be
// refused, and the option matrix (matrix.mjs). Exits 1 if any check failed.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { runMatrix } from './matrix.mjs';
import { blkdeviotune, consoleText, define, domainXml, remove, tool, virsh, waitFor } from './virsh.mjs';

const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
const { Backend, RbdCluster, cacheFileName } = lib;

const MiB = 2 ** 20;
const BASE_SIZE = 64 * MiB;
const DEEP = 41 * MiB + 3 * 512 + 7; // deep inside the base, not on a cluster or object boundary
const WRITE = 24 * MiB + 5 * 512; // inside the base's range: copy-on-write for overlays and clones
const e = process.env;
const work = e.IBT_WORK;
const ceph = {
  conf: e.CEPH_CONF,
  fsid: e.CEPH_FSID,
  admin: { user: e.CEPH_ADMIN_USER, keyring: e.CEPH_ADMIN_KEYRING },
  client: { user: e.CEPH_CLIENT_USER, keyring: e.CEPH_CLIENT_KEYRING },
  images: e.CEPH_POOL_IMAGES,
  vms: e.CEPH_POOL_VMS,
};

// The RBD image of a disk: on the image itself today, on its store (disk.store) in the disk-store design.
const rbdName = (image) => image.rbdName ?? image.store?.rbdName;

const failures = [];
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures.push(name);
  return ok;
}
const sha256 = async (path) => createHash('sha256').update(await readFile(path)).digest('hex');
function readAt(path, offset, length) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

// The base: sparse, with a marker at the start and one deep inside.
const nonce = randomBytes(8).toString('hex');
const startMarker = Buffer.from(`IMAGEBACKEND-BASE-START:${nonce}:`.padEnd(48, '.'));
const deepMarker = Buffer.from(`IMAGEBACKEND-BASE-DEEP:${nonce}:`.padEnd(48, '.'));
const base = join(work, 'base.raw');
await writeFile(base, '');
await truncate(base, BASE_SIZE);
{
  const fd = openSync(base, 'r+');
  writeSync(fd, startMarker, 0, startMarker.length, 0);
  writeSync(fd, deepMarker, 0, deepMarker.length, DEEP);
  closeSync(fd);
}
const baseHash = await sha256(base);
const fetch = async ({ target }) => {
  await tool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', base, target]);
};

// The image service's copy in `images`, as Glance's rbd store leaves it: a protected snapshot `snap`.
const admin = await RbdCluster.connect({ cephConf: ceph.conf, user: ceph.admin.user, keyring: ceph.admin.keyring });
const glanceName = `glance-${nonce}`;
{
  const image = admin.pool(ceph.images).image(glanceName);
  await image.import(base);
  await image.createSnapshot('snap');
  await image.protectSnapshot('snap');
}
const imageService = {
  get: async (_context, id) => {
    if (id === 'image-rbd') {
      return { id, disk_format: 'raw', locations: [{ url: `rbd://${ceph.fsid}/${ceph.images}/${glanceName}/snap` }] };
    }
    return { id, disk_format: 'raw', locations: [{ url: 'file:///nowhere' }] };
  },
};

const instancesPath = join(work, 'instances');
await mkdir(instancesPath, { recursive: true });
const secretUuid = randomUUID();
const rbdSettings = { pool: ceph.vms, cephConf: ceph.conf, user: ceph.client.user, keyring: ceph.client.keyring };
const backends = {
  qcow2: new Backend({ instancesPath, imagesType: 'qcow2', discardMode: 'unmap' }),
  flat: new Backend({ instancesPath, imagesType: 'flat' }),
  prealloc: new Backend({ instancesPath, imagesType: 'flat', preallocateImages: 'space' }),
  rbd: new Backend({ instancesPath, imagesType: 'rbd', imageService, rbd: { ...rbdSettings, secretUuid } }),
};

// One disk per kind: its flavor size tells the guest's disks apart.
const disks = [
  { kind: 'qcow2 overlay', backend: 'qcow2', imageId: 'image-file', size: 96 * MiB, cacheMode: 'none', bootOrder: 1,
    specs: { 'quota:disk_read_bytes_sec': '10485760', 'quota:disk_write_iops_sec': '200' } },
  { kind: 'raw (Flat)', backend: 'flat', imageId: 'image-file', size: 112 * MiB, cacheMode: 'writeback',
    specs: { 'quota:disk_total_bytes_sec': '20971520', 'quota:disk_total_iops_sec': '500' } },
  { kind: 'raw (Flat, preallocated)', backend: 'prealloc', imageId: 'image-file', size: 128 * MiB, cacheMode: 'none',
    specs: { 'quota:disk_write_bytes_sec': '31457280', 'quota:disk_read_iops_sec': '400' } },
  { kind: 'RBD clone', backend: 'rbd', imageId: 'image-rbd', size: 144 * MiB, cacheMode: 'writeback', clone: true,
    specs: { 'quota:disk_read_iops_sec': '300', 'quota:disk_write_bytes_sec': '41943040' } },
  { kind: 'RBD import', backend: 'rbd', imageId: 'image-import', size: 160 * MiB, cacheMode: 'none',
    specs: { 'quota:disk_total_iops_sec': '600', 'hw:cpu_policy': 'dedicated' } },
];

let exitCode = 1;
const domains = [];
try {
  for (const [i, d] of disks.entries()) {
    d.dev = `vd${String.fromCharCode(97 + i)}`;
    d.image = backends[d.backend].image({ uuid: randomUUID() }, 'disk');
    await d.image.cache({
      fetch,
      filename: cacheFileName(d.imageId),
      imageId: d.imageId,
      size: d.size,
      ...(d.clone ? { clone: { context: {}, neverDownload: true } } : {}),
    });
    const config = await d.image.libvirtInfo({
      diskBus: 'virtio',
      diskDev: d.dev,
      deviceType: 'disk',
      cacheMode: d.cacheMode,
      extraSpecs: d.specs,
      hypervisorVersion: 7002000,
      ...(d.bootOrder ? { bootOrder: d.bootOrder } : {}),
    });
    d.xml = config.toXml();
  }
  const cachedBase = join(instancesPath, '_base', cacheFileName('image-file'));
  const cachedBaseHash = await sha256(cachedBase);
  check('the cached base is the image', cachedBaseHash === baseHash);
  const clone = disks.find((d) => d.clone);
  const parent = await admin.pool(ceph.vms).image(rbdName(clone.image)).parentInfo();
  check('the RBD clone is a clone of the images snapshot', parent?.image === glanceName && parent?.snapshot === 'snap', JSON.stringify(parent));
  check('the preallocated disk asks for io=native (cache none)', /io="native"/.test(disks[2].xml), disks[2].xml);

  // The libvirt secret the RBD disks' XML names, holding the compute user's key.
  const uuids = new Set(disks.flatMap((d) => [...d.xml.matchAll(/<secret type="ceph" uuid="([^"]+)"/g)].map((m) => m[1])));
  check('both RBD disks name one secret, the configured one', uuids.size === 1 && uuids.has(secretUuid), [...uuids].join());
  const key = /key\s*=\s*(\S+)/.exec(await readFile(ceph.client.keyring, 'utf8'))[1];
  const secretFile = join(work, 'secret.xml');
  await writeFile(
    secretFile,
    `<secret ephemeral='no' private='yes'><uuid>${[...uuids][0]}</uuid><usage type='ceph'><name>client.${ceph.client.user} secret</name></usage></secret>`,
  );
  await virsh(['secret-define', secretFile]);
  const keyFile = join(work, 'secret.key');
  await writeFile(keyFile, key, { mode: 0o600 });
  await virsh(['secret-set-value', '--secret', [...uuids][0], '--file', keyFile]);

  // Boot.
  const name = `ibt-boot-${nonce}`;
  const consoleFile = join(work, `${name}.console`);
  const cmdline = `console=ttyS0 panic=-1 rdinit=/init quiet loglevel=3 ibt.deep=${DEEP} ibt.write=${WRITE} ibt.nonce=${nonce}`;
  const xml = domainXml({
    name,
    devices: disks.map((d) => d.xml).join('\n'),
    consoleFile,
    kernel: e.IBT_KERNEL,
    initrd: e.IBT_INITRD,
    cmdline,
  });
  await define(work, name, xml);
  domains.push(name);
  const bootStarted = Date.now();
  await virsh(['start', name], { timeoutMs: 120_000 });
  const text = await waitFor('the guest to report (IBT DONE on its console)', async () => {
    const t = await consoleText(consoleFile);
    return /IBT DONE/.test(t) && t;
  }, { timeoutMs: 180_000 });
  console.log(`guest booted and reported in ${((Date.now() - bootStarted) / 1000).toFixed(1)} s`);

  // Live throttling, while the guest runs.
  const IOTUNE = [
    ['quota:disk_total_bytes_sec', 'total_bytes_sec'],
    ['quota:disk_read_bytes_sec', 'read_bytes_sec'],
    ['quota:disk_write_bytes_sec', 'write_bytes_sec'],
    ['quota:disk_total_iops_sec', 'total_iops_sec'],
    ['quota:disk_read_iops_sec', 'read_iops_sec'],
    ['quota:disk_write_iops_sec', 'write_iops_sec'],
  ];
  for (const d of disks) {
    const live = await blkdeviotune(name, d.dev);
    const wrong = IOTUNE.filter(([spec, field]) => live[field] !== Number(d.specs[spec] ?? 0));
    check(`${d.kind}: virsh blkdeviotune equals the flavor's quota:disk_* specs`, wrong.length === 0, JSON.stringify(live));
  }
  await virsh(['destroy', name], { timeoutMs: 60_000 });

  // What the guest saw.
  const seen = [...text.matchAll(/IBT DISK dev=(\S+) bytes=(\d+) start=([0-9a-f]*) deep=([0-9a-f]*) wrote=(\d+)/g)].map((m) => ({
    dev: m[1],
    bytes: Number(m[2]),
    start: m[3],
    deep: m[4],
    wrote: Number(m[5]),
  }));
  check(`the guest sees ${disks.length} disks`, seen.length === disks.length, text.slice(-2000));
  for (const d of disks) {
    const g = seen.find((s) => s.bytes === d.size);
    if (!check(`${d.kind}: the guest sees a disk of the flavor size (${d.size} bytes)`, g !== undefined, JSON.stringify(seen))) continue;
    check(`${d.kind}: the guest reads the base's marker at offset 0`, g.start === startMarker.toString('hex'), Buffer.from(g.start, 'hex').toString());
    check(`${d.kind}: the guest reads the base's marker at ${DEEP}`, g.deep === deepMarker.toString('hex'), Buffer.from(g.deep, 'hex').toString());
    check(`${d.kind}: the guest's write succeeded`, g.wrote === 0);
    d.guestDev = g.dev;
  }

  // The guest's sector, read back on the host.
  for (const d of disks) {
    if (!d.guestDev) continue;
    const expected = Buffer.alloc(512);
    expected.write(`GUEST-WROTE:${d.guestDev}:${d.size}:${nonce}`);
    let sector;
    if (d.backend === 'rbd') {
      const out = join(work, `${rbdName(d.image)}.export`);
      await admin.pool(ceph.vms).image(rbdName(d.image)).export(out);
      sector = readAt(out, WRITE, 512);
      await rm(out);
    } else {
      // What qemu presents to the guest, through qemu's own image driver (the overlay over its base).
      const format = await d.image.resolveDriverFormat();
      const out = join(work, 'readback.raw');
      await tool('qemu-img', ['convert', '-f', format, '-O', 'raw', d.image.path, out]);
      sector = readAt(out, WRITE, 512);
      await rm(out);
    }
    check(`${d.kind}: the sector the guest wrote reads back on the host (${d.backend === 'rbd' ? 'librbd' : 'qemu-img'})`, sector.equals(expected), JSON.stringify(sector.subarray(0, 64).toString()));
  }
  check('the source image is unchanged', (await sha256(base)) === baseHash);
  check('the cached base under the overlay and the copies is unchanged', (await sha256(cachedBase)) === baseHash);
  const snapOut = join(work, 'snap.export');
  await admin.pool(ceph.images).image(glanceName).export(snapOut, { snapshot: 'snap' });
  check("the clone's parent snapshot is unchanged", (await sha256(snapOut)) === baseHash);
  await rm(snapOut);

  // cephx on, no secret uuid: libvirt would get no <auth> and hang 300 s at
  // start; the library must refuse (contract RbdDriver.authRequired(), from
  // the provisioning rework: until it is merged this check fails).
  {
    const noSecret = new Backend({ instancesPath, imagesType: 'rbd', imageService, rbd: rbdSettings });
    try {
      const disk = noSecret.image({ uuid: randomUUID() }, 'disk');
      let outcome;
      try {
        const cfg = await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'writeback' });
        outcome = `accepted, XML ${/<auth/.test(cfg.toXml()) ? 'with' : 'without'} <auth>`;
      } catch (error) {
        outcome = error;
      }
      check(
        'an RBD disk on a cephx cluster without a secret uuid is refused with a typed error (needs RbdDriver.authRequired from the provision branch)',
        outcome instanceof lib.ImageBackendError && /secret|auth|cephx/i.test(outcome.message),
        outcome instanceof Error ? `${outcome.code}: ${outcome.message}` : String(outcome),
      );
    } finally {
      await noSecret.close();
    }
  }

  // Every option combination the library emits, against libvirt and qemu.
  await runMatrix({ lib, work, instancesPath, fetch, backends, check, domains, nonce });

  exitCode = failures.length === 0 ? 0 : 1;
} catch (error) {
  console.error(error);
  check('the test ran to the end', false, error.message);
} finally {
  for (const name of domains) await remove(name);
  for (const b of Object.values(backends)) await b.close().catch(() => {});
  await admin.pool(ceph.images).image(glanceName).unprotectSnapshot('snap').catch(() => {});
  await admin.close();
}
if (failures.length) console.log(`\n${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
process.exit(exitCode);
