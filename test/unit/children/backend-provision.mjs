// One compute agent process: node backend-provision.mjs <instancesPath> <proc> <disks> <counterFile> <baseSize> [hang]
// Provisions disk `disk-<proc>` of instances inst-0..inst-<disks-1> concurrently from one
// base (image id `shared-image`); each real fetch appends a line to <counterFile>.
// With `hang`, the fetch writes part of the base, prints `fetching <target>` and waits to be killed.
import { Buffer } from 'node:buffer';
import { appendFile, open, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from './common.mjs';

const [instancesPath, proc, disks, counter, baseSize, hang] = process.argv.slice(2);
const { Backend, Locks, cacheFileName } = await load('index.js');
const locks = new Locks({ lockPath: `${instancesPath}/locks`, staleMs: 2000, updateMs: 1000, timeoutMs: 60_000 });
const backend = new Backend({ instancesPath, imagesType: 'qcow2', locks });
const fetch = async ({ target }) => {
  await appendFile(counter, `${process.pid}\n`);
  if (hang) {
    await writeFile(target, 'partial');
    console.log(`fetching ${target}`);
    await new Promise(() => setTimeout(() => {}, 3_600_000));
  }
  const fh = await open(target, 'wx');
  await fh.truncate(Number(baseSize));
  const sector = Buffer.alloc(512);
  sector.write('shared base', 0);
  // One Linux partition from 1 MiB: an MBR signature with no partition is unsafe (oslo's check).
  sector[446 + 4] = 0x83;
  sector.writeUInt32LE(2048, 446 + 8);
  sector.writeUInt32LE(1, 446 + 12);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  await fh.write(sector, 0, 512, 0);
  await fh.close();
  // A slow download widens the window in which the other processes wait.
  await sleep(300);
};
await Promise.all(
  Array.from({ length: Number(disks) }, (_, i) =>
    backend
      .image({ uuid: `inst-${i}` }, `disk-${proc}`)
      .cache({ fetch, filename: cacheFileName('shared-image'), imageId: 'shared-image', size: 2 * Number(baseSize) }),
  ),
);
console.log('done');
