// Runs inside the guest of scripts/lvm-vm-test.sh, chrooted into the host's
// root with device-mapper loaded: the full LVM path through the built
// library (dist/), over both runners: the driver, then the Lvm image backend
// through Backend (dense and sparse), then the CLI. Writes report.txt to the results
// folder given as argv[2]; exits 0 only if every step passed.
/* global AbortController */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, openSync, readSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const lib = await import(new URL('../dist/index.js', import.meta.url).href);
const { Backend, Lvm2Driver, LvmCliRunner, LvmLibRunner, cacheFileName, hasDeviceMapper, provisionFromBase, deleteVolumes, volumeName } = lib;
const project = join(dirname(new URL(import.meta.url).pathname), '..');

const results = process.argv[2] ?? '/tmp';
const report = join(results, 'report.txt');
writeFileSync(report, '');
const log = (line) => {
  appendFileSync(report, `${line}\n`);
  console.log(line);
};
const MiB = 1 << 20;
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function read(path, offset, length) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}
// memcmp against a zero MiB: a per-byte callback over 64 MiB takes seconds under TCG.
const zeroMiB = Buffer.alloc(MiB);
const zeros = (b) => {
  for (let i = 0; i < b.length; i += MiB) {
    const part = b.subarray(i, i + MiB);
    if (!part.equals(zeroMiB.subarray(0, part.length))) return false;
  }
  return true;
};
const fsBytes = (dev) => {
  const out = sh('dumpe2fs', ['-h', dev]);
  return Number(/^Block count:\s+(\d+)/m.exec(out)[1]) * Number(/^Block size:\s+(\d+)/m.exec(out)[1]);
};
// `debugfs -R stats`: a second reader of the superblock.
const debugfsBytes = (dev) => {
  const out = sh('debugfs', ['-R', 'stats', dev]);
  return Number(/Block count:\s+(\d+)/.exec(out)[1]) * Number(/Block size:\s+(\d+)/.exec(out)[1]);
};
const lvmJson = (argv) => JSON.parse(sh('lvm', [...argv, '--reportformat', 'json', '--units', 'b', '--nosuffix'])).report[0];
// Where a volume's data lives on the PV (a file under /tmp here): byte ranges
// of pv.img, for reading back what wiping left after the volume is gone.
let geometry;
function pvRanges(vgName, lv) {
  geometry ??= {
    extent: Number(lvmJson(['vgs', '-o', 'vg_extent_size', vgName]).vg[0].vg_extent_size),
    peStart: Number(lvmJson(['pvs', '-o', 'pe_start', device]).pv[0].pe_start),
  };
  const { extent, peStart } = geometry;
  const ranges = [];
  for (const seg of lvmJson(['lvs', '-a', '--segments', '-o', 'lv_name,seg_pe_ranges', vgName]).seg) {
    if (seg.lv_name !== lv) continue;
    for (const r of seg.seg_pe_ranges.split(/\s+/).filter(Boolean)) {
      const [, from, to] = /:(\d+)-(\d+)$/.exec(r);
      ranges.push([peStart + Number(from) * extent, (Number(to) - Number(from) + 1) * extent]);
    }
  }
  assert.ok(ranges.length > 0, `extents of ${lv}`);
  return ranges;
}
const pvRead = (ranges) => Buffer.concat(ranges.map(([offset, length]) => read(join(work, 'pv.img'), offset, length)));
const writeAt = (dev, offset, data) => {
  const file = join(work, 'marker.bin');
  writeFileSync(file, data);
  sh('dd', [`if=${file}`, `of=${dev}`, 'bs=64K', `seek=${offset / 65536}`, 'oflag=direct', 'conv=notrunc', 'status=none']);
};
const rejection = (promise) => promise.then(() => undefined, (e) => e);
const virtXmlValidate = ['/usr/bin/virt-xml-validate', '/usr/bin/xmllint'].every((f) => existsSync(f)) && existsSync('/usr/share/libvirt/schemas/domain.rng');

let failures = 0;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures++;
    log(`FAIL ${name} (${Date.now() - started} ms): ${error?.stack ?? error}`);
  }
}

const work = '/tmp/lvmvm';
mkdirSync(work, { recursive: true });
let device;
const vg = `ibvm${randomBytes(3).toString('hex')}`;

await step('device-mapper is present', async () => assert.equal(await hasDeviceMapper(), true));

await step('loop device, PV and VG', async () => {
  sh('truncate', ['-s', '768M', join(work, 'pv.img')]);
  device = sh('losetup', ['-f', '--show', join(work, 'pv.img')]).trim();
  const runner = new LvmCliRunner({ devices: [device] });
  for (const argv of [['pvcreate', device], ['vgcreate', vg, device]]) {
    const r = await runner.run(argv);
    assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}${r.stdout}`);
  }
});

// Bases: an ext4 file system holding a file, as raw and as qcow2.
const rawBase = join(work, 'base.raw');
const qcowBase = join(work, 'base.qcow2');
await step('bases: ext4 raw image with a file, and its qcow2', async () => {
  mkdirSync(join(work, 'content'), { recursive: true });
  writeFileSync(join(work, 'content', 'hello.txt'), 'hello from the base image\n');
  sh('truncate', ['-s', '24M', rawBase]);
  sh('mkfs.ext4', ['-q', '-F', '-d', join(work, 'content'), rawBase]);
  sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawBase, qcowBase]);
});

const uuid = '0f6c1d2e-3b4a-4c5d-8e9f-001122334455';
for (const [kind, Runner] of [['cli', LvmCliRunner], ['lib', LvmLibRunner]]) {
  const driver = new Lvm2Driver(new Runner({ devices: [device] }));
  const prefix = `${kind}: `;

  await step(`${prefix}mode is activation`, async () => assert.equal(await driver.mode(), 'activation'));

  await step(`${prefix}createVolume makes a device node of the rounded size; remove takes it away`, async () => {
    const v = await driver.createVolume(vg, volumeName(uuid, `${kind}_plain`), 5 * MiB);
    assert.equal(v.size, 8 * MiB);
    assert.equal(existsSync(v.path), true, `${v.path} exists`);
    assert.equal(await driver.getVolumeSize(v.path), 8 * MiB);
    const info = await driver.volumeInfo(v.path);
    assert.match(info.attr, /^-wi-a/);
    await driver.removeVolumes([v.path]);
    assert.equal(existsSync(v.path), false);
  });

  await step(`${prefix}sparse volume (zero-target snapshot) of 1 GiB in a 768 MiB group`, async () => {
    const v = await driver.createVolume(vg, `${kind}_sparse`, 1024 * MiB, { sparse: true });
    assert.equal(await driver.getVolumeSize(v.path), 1024 * MiB);
    assert.equal(zeros(read(v.path, 512 * MiB, MiB)), true);
    await driver.removeVolumes([v.path]);
    assert.deepEqual((await driver.listVolumes(vg)).filter((n) => n.startsWith(kind)), []);
  });

  // qcow2 bases: converted by qemu-img in the backend steps below, for each runner and mode.
  for (const [format, base] of [['raw', rawBase]]) {
    await step(`${prefix}provision from a ${format} base: written, ext4 grown, file readable, wiped on delete`, async () => {
      const lv = volumeName(uuid, `${kind}_${format}_disk`);
      const events = [];
      const { volume, baseSize, filesystem } = await provisionFromBase({
        driver, volumeGroup: vg, logicalVolume: lv, size: 64 * MiB, base: { path: base, format },
        onProgress: (done) => events.push(done),
      });
      assert.equal(baseSize, 24 * MiB);
      assert.equal(volume.size, 64 * MiB);
      assert.deepEqual(filesystem, { grown: true });
      assert.equal(fsBytes(volume.path), 64 * MiB);
      assert.equal(sh('debugfs', ['-R', 'cat /hello.txt', volume.path]), 'hello from the base image\n');
      assert.ok(events.length > 0, 'progress reported');
      await deleteVolumes(driver, [volume.path], { volumeClear: 'zero' });
      assert.equal(existsSync(volume.path), false);
    });
  }

  await step(`${prefix}clearVolume zero and shred on a live volume, capped by volumeClearSizeMiB`, async () => {
    const v = await driver.createVolume(vg, `${kind}_wipe`, 32 * MiB);
    sh('dd', ['if=/dev/urandom', `of=${v.path}`, 'bs=1M', 'count=32', 'oflag=direct', 'status=none']);
    assert.deepEqual(await driver.clearVolume(v.path, { volumeClear: 'zero', volumeClearSizeMiB: 8 }), { bytes: 8 * MiB, missing: false });
    assert.equal(zeros(read(v.path, 0, 8 * MiB)), true);
    assert.equal(zeros(read(v.path, 8 * MiB, MiB)), false);
    const shred = await driver.clearVolume(v.path, { volumeClear: 'shred' });
    assert.equal(shred.bytes, 32 * MiB);
    assert.ok(read(v.path, 0, MiB).filter((b) => b === 0).length < 20_000, 'shredded');
    assert.deepEqual(await driver.clearVolume(v.path, { volumeClear: 'zero' }), { bytes: 32 * MiB, missing: false });
    assert.equal(zeros(read(v.path, 0, 32 * MiB)), true);
    await driver.removeVolumes([v.path]);
    assert.deepEqual(await driver.clearVolume(v.path, { volumeClear: 'zero' }), { bytes: 0, missing: true });
  });

  await step(`${prefix}an aborted write removes the volume and keeps the error`, async () => {
    const lv = `${kind}_bad`;
    const ac = new AbortController();
    // Aborted as soon as the volume exists: deterministic, where aborting from
    // the first progress event raced the native copy of a small base.
    const aborting = {
      createVolume: async (...args) => {
        const volume = await driver.createVolume(...args);
        assert.equal(existsSync(volume.path), true);
        ac.abort();
        return volume;
      },
      removeVolumes: (...args) => driver.removeVolumes(...args),
    };
    const error = await rejection(
      provisionFromBase({
        driver: aborting, volumeGroup: vg, logicalVolume: lv, size: 32 * MiB, base: { path: rawBase, format: 'raw' }, signal: ac.signal,
      }),
    );
    assert.equal(error?.code, 'ABORTED', String(error));
    assert.equal((await driver.listVolumes(vg)).includes(lv), false);
    assert.equal(existsSync(`/dev/${vg}/${lv}`), false);
  });

  await driver.close();
}


// The public image API over real volumes: Backend({ imagesType: 'lvm' })
// .image(instance, disk).cache(...), libvirtInfo, snapshotExtract, delete.
const baseBytes = readFileSync(rawBase);
const copying = (source, counter) => async ({ target }) => {
  counter.fetches++;
  copyFileSync(source, target);
};
async function backendRun(kind, sparse) {
  const prefix = `${kind} backend sparse=${sparse}: `;
  const instancesPath = join(work, `instances-${kind}-${sparse}`);
  const options = { volumeGroup: vg, sparse, volumeClear: 'zero', volumeClearSizeMiB: 0, runner: kind, devices: [device] };
  const backend = new Backend({ instancesPath, imagesType: 'lvm', lvm: options });
  const driver = backend.context.lvmDriver();
  // Same driver, other wiping: shred the first 4 MiB.
  const shredding = new Backend({ instancesPath, imagesType: 'lvm', lvm: { ...options, volumeClear: 'shred', volumeClearSizeMiB: 4, driver } });
  const instance = { uuid: randomUUID() };
  const raw = { fetches: 0 };
  const disk = backend.image(instance, 'disk');
  const lvs = async () => driver.listVolumes(vg);

  await step(`${prefix}cache() a raw ext4 base: LV of the size, base bytes written, ext4 grown, fetched once`, async () => {
    assert.equal(disk.store.constructor.name, 'LvmStore');
    assert.equal(disk.path, `/dev/${vg}/${instance.uuid}_disk`);
    assert.equal(await disk.exists(), false);
    const request = { fetch: copying(rawBase, raw), filename: cacheFileName('raw-ext4'), imageId: 'raw-ext4', size: 64 * MiB };
    await disk.cache(request);
    assert.equal(raw.fetches, 1);
    assert.equal(await disk.exists(), true);
    assert.equal(await driver.getVolumeSize(disk.path), 64 * MiB);
    assert.equal((await driver.volumeInfo(disk.path)).attr[0], sparse ? 's' : '-', 'sparse volumes are snapshots of the zero target');
    // resize2fs rewrote the superblock (at 1 KiB) and group descriptors: the
    // boot block is the base's; the whole base is compared where no grow runs (shred step).
    assert.ok(read(disk.path, 0, 1024).equals(baseBytes.subarray(0, 1024)), 'boot block equals the base');
    assert.notEqual(read(disk.path, 0, 2 * MiB).indexOf(Buffer.from([0x53, 0xef])), -1, 'ext4 magic');
    assert.equal(fsBytes(disk.path), 64 * MiB, 'dumpe2fs: grown');
    assert.equal(debugfsBytes(disk.path), 64 * MiB, 'debugfs stats: grown');
    assert.equal(sh('debugfs', ['-R', 'cat /hello.txt', disk.path]), 'hello from the base image\n');
    await disk.cache(request);
    assert.equal(raw.fetches, 1, 'nothing fetched or made again');
  });

  await step(`${prefix}libvirtInfo: block source /dev/VG/LV, io=${sparse ? 'unset' : 'native'}${virtXmlValidate ? ', valid per virt-xml-validate' : ''}`, async () => {
    const xml = (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
    assert.match(xml, /<disk type="block" device="disk">/);
    assert.ok(xml.includes(`<source dev="/dev/${vg}/${instance.uuid}_disk"/>`), xml);
    assert.match(xml, /type="raw"/);
    assert.equal(/io="native"/.test(xml), !sparse, xml);
    if (virtXmlValidate) {
      const file = join(work, `domain-${kind}-${sparse}.xml`);
      writeFileSync(file, `<domain type='kvm'><name>t</name><memory unit="MiB">128</memory><os><type arch="x86_64">hvm</type></os><devices>\n${xml}\n</devices></domain>\n`);
      sh('virt-xml-validate', [file, 'domain']);
    }
  });

  await step(`${prefix}snapshotExtract to qcow2: qemu-img check clean, compare identical to the LV`, async () => {
    const target = join(work, `snap-${kind}-${sparse}.qcow2`);
    await disk.snapshotExtract(target, 'qcow2');
    sh('qemu-img', ['check', '-f', 'qcow2', target]);
    sh('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', disk.path, target]);
  });

  await step(`${prefix}a generated disk (no image id) is made at its size and written in place`, async () => {
    const eph = backend.image(instance, 'disk.eph0');
    const targets = [];
    await eph.cache({
      filename: 'ephemeral_16_default',
      size: 16 * MiB,
      ephemeralSize: 16 * MiB,
      fetch: async ({ target }) => {
        targets.push(target);
        sh('mkfs.ext4', ['-q', '-F', '-L', 'ephemeral0', target]);
      },
    });
    assert.deepEqual(targets, [eph.path]);
    assert.equal(await driver.getVolumeSize(eph.path), 16 * MiB);
    assert.equal(fsBytes(eph.path), 16 * MiB);
    assert.equal(existsSync(join(instancesPath, '_base', 'ephemeral_16_default')), false, 'no base cached');
    await eph.remove();
    assert.equal(await eph.exists(), false);
  });

  await step(`${prefix}a qcow2 base is converted into the LV by qemu-img, ext4 grown`, async () => {
    const q = backend.image({ uuid: randomUUID() }, 'disk');
    await q.cache({ fetch: copying(qcowBase, { fetches: 0 }), filename: cacheFileName('qcow2-ext4'), imageId: 'qcow2-ext4', size: 48 * MiB });
    assert.equal(await driver.getVolumeSize(q.path), 48 * MiB);
    assert.ok(read(q.path, 0, 1024).equals(baseBytes.subarray(0, 1024)), 'boot block equals the raw content');
    assert.equal(sh('debugfs', ['-R', 'cat /hello.txt', q.path]), 'hello from the base image\n');
    assert.equal(fsBytes(q.path), 48 * MiB);
    await q.remove();
    assert.equal(await q.exists(), false);
  });

  await step(`${prefix}a base larger than the size: FLAVOR_DISK_TOO_SMALL, no LV left`, async () => {
    const small = backend.image({ uuid: randomUUID() }, 'disk');
    const error = await rejection(small.cache({ fetch: copying(rawBase, raw), filename: cacheFileName('raw-ext4'), imageId: 'raw-ext4', size: 8 * MiB }));
    assert.equal(error?.code, 'FLAVOR_DISK_TOO_SMALL', String(error));
    assert.equal(await small.exists(), false);
    assert.equal((await lvs()).some((n) => n.startsWith(small.path.split('/')[3].split('_')[0])), false);
    assert.equal(existsSync(small.path), false);
  });

  await step(`${prefix}delete() with volumeClear zero: the volume's ${sparse ? 'copy-on-write store' : 'extents'} read back as zeros, LV removed`, async () => {
    writeAt(disk.path, 2 * MiB, Buffer.alloc(64 * 1024, 0xa5));
    const ranges = pvRanges(vg, `${instance.uuid}_disk`);
    const marker = Buffer.alloc(64 * 1024, 0xa5);
    assert.notEqual(pvRead(ranges).indexOf(marker), -1, 'marker on the PV before');
    await disk.remove();
    assert.equal(await disk.exists(), false);
    assert.equal(existsSync(disk.path), false);
    const after = pvRead(ranges);
    assert.equal(after.indexOf(marker), -1, 'marker wiped');
    assert.equal(after.indexOf(Buffer.from('hello from the base image')), -1, 'file content wiped');
    assert.equal(zeros(after), true, sparse ? 'the copy-on-write store zeroed' : 'all extents zero');
  });

  await step(`${prefix}size = base size: the LV is the base byte for byte; delete() with shred, volumeClearSizeMiB 4: ${sparse ? 'the store' : 'the volume'}'s first 4 MiB overwritten, the rest kept`, async () => {
    const victim = shredding.image({ uuid: randomUUID() }, 'disk');
    await victim.cache({ fetch: copying(rawBase, raw), filename: cacheFileName('raw-ext4'), imageId: 'raw-ext4', size: 24 * MiB });
    assert.ok(read(victim.path, 0, 24 * MiB).equals(baseBytes), 'no grow: the LV is the base');
    const inside = Buffer.alloc(64 * 1024, 0x5a);
    const outside = Buffer.alloc(64 * 1024, 0x3c);
    writeAt(victim.path, 3 * MiB, inside);
    writeAt(victim.path, 12 * MiB, outside);
    sh('blockdev', ['--flushbufs', victim.path]);
    const ranges = pvRanges(vg, victim.path.split('/')[3]);
    const before = pvRead(ranges);
    await victim.remove();
    assert.equal(await victim.exists(), false);
    assert.equal(existsSync(victim.path), false);
    const after = pvRead(ranges);
    const head = after.subarray(0, 4 * MiB);
    assert.ok(head.filter((b) => b === 0).length < 4 * 20_000, 'first 4 MiB random');
    let same = 0;
    for (let i = 0; i < head.length; i += 512) if (head[i] === before[i]) same++;
    assert.ok(same < head.length / 512 / 64, `first 4 MiB changed (${same} samples equal)`);
    assert.ok(after.subarray(4 * MiB).equals(before.subarray(4 * MiB)), 'beyond volumeClearSizeMiB: unchanged');
    if (!sparse) {
      assert.equal(after.indexOf(inside), -1, 'the marker at 3 MiB overwritten');
      assert.notEqual(after.indexOf(outside), -1, 'the marker at 12 MiB kept');
    }
    assert.deepEqual((await lvs()).filter((n) => n.startsWith(instance.uuid)), []);
  });

  await shredding.close();
  await backend.close();
}

for (const kind of ['cli', 'lib']) for (const sparse of [false, true]) await backendRun(kind, sparse);

await step('CLI: imagebackend provision --backend lvm --count 3 --json --cleanup', async () => {
  const out = sh('node', [
    join(project, 'dist', 'cli.js'), 'provision', '--backend', 'lvm', '--volume-group', vg, '--lvm-runner', 'lib',
    '--count', '3', '--size', '32M', '--base-size', '16M', '--json', '--cleanup',
  ]);
  const report = JSON.parse(out);
  assert.equal(report.backend, 'lvm');
  assert.equal(report.fetches, 1);
  assert.equal(report.disks.length, 3);
  for (const d of report.disks) {
    assert.equal(d.path, `/dev/${vg}/${d.instance}_disk`);
    assert.equal(d.format, 'raw');
    assert.equal(d.virtualSize, 32 * MiB);
  }
  const left = await new Lvm2Driver(new LvmCliRunner({ devices: [device] })).listVolumes(vg);
  assert.deepEqual(left.filter((n) => report.disks.some((d) => n.startsWith(d.instance))), [], 'removed by --cleanup');
});

await step('teardown: VG, PV, loop device', async () => {
  const runner = new LvmCliRunner({ devices: [device] });
  for (const argv of [['vgremove', '-f', vg], ['pvremove', device]]) {
    const r = await runner.run(argv);
    assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}${r.stdout}`);
  }
  sh('losetup', ['-d', device]);
});

log(failures === 0 ? 'PASS' : `FAIL: ${failures} step(s)`);
process.exit(failures === 0 ? 0 : 1);
