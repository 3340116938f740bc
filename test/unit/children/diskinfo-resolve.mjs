// Resolves a disk's format in a fresh process, probing with qemu-img when disk.info has no entry:
// node diskinfo-resolve.mjs <diskInfoPath> <diskPath>
import { execFileSync } from 'node:child_process';
import { load } from './common.mjs';

const [path, disk] = process.argv.slice(2);
const { DiskInfo } = await load('diskinfo/index.js');
const format = await new DiskInfo(path).resolveFormat(disk, async (p) =>
  JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', p], { encoding: 'utf8' })).format,
);
console.log(`format=${format}`);
