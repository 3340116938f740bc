// Writes disk.info from another process: node diskinfo-writer.mjs <diskInfoPath> <count> <tag>
// Records <count> own disks and one shared disk (raw or qcow2 by tag parity); prints the shared result.
import { load } from './common.mjs';

const [path, count, tag] = process.argv.slice(2);
const { DiskInfo } = await load('diskinfo/index.js');
const info = new DiskInfo(path);
const own = Array.from({ length: Number(count) }, (_, i) =>
  info.recordFormat(`/instances/x/disk-${tag}-${i}`, i % 2 ? 'qcow2' : 'raw'),
);
const shared = info.recordFormat('/instances/x/shared', Number(tag) % 2 ? 'qcow2' : 'raw');
await Promise.all(own);
console.log(`shared=${await shared}`);
