// Runs inside the guest of scripts/lvm-vm-test.sh, chrooted into the host's
// root with device-mapper loaded: the full LVM path through the built
// library (dist/), over both runners. Writes report.txt to the results
// folder given as argv[2]; exits 0 only if every step passed.
/* global AbortController */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const lib = await import(new URL('../dist/index.js', import.meta.url).href);
const { Lvm2Driver, LvmCliRunner, LvmLibRunner, hasDeviceMapper, provisionFromBase, deleteVolumes, volumeName } = lib;

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
const zeros = (b) => b.every((x) => x === 0);
const fsBytes = (dev) => {
  const out = sh('dumpe2fs', ['-h', dev]);
  return Number(/^Block count:\s+(\d+)/m.exec(out)[1]) * Number(/^Block size:\s+(\d+)/m.exec(out)[1]);
};

let failures = 0;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures++;
    log(`FAIL ${name}: ${error?.stack ?? error}`);
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

  for (const [format, base] of [['raw', rawBase], ['qcow2', qcowBase]]) {
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
    const error = await provisionFromBase({
      driver, volumeGroup: vg, logicalVolume: lv, size: 32 * MiB, base: { path: rawBase, format: 'raw' },
      signal: ac.signal, onProgress: () => ac.abort(),
    }).then(
      () => undefined,
      (e) => e,
    );
    assert.equal(error?.code, 'ABORTED');
    assert.equal((await driver.listVolumes(vg)).includes(lv), false);
    assert.equal(existsSync(`/dev/${vg}/${lv}`), false);
  });

  await driver.close();
}

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
