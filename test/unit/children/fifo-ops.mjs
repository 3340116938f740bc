// Hands a named pipe to every call that expects a regular file (or a raw
// disk) and prints one JSON line per call: {op, code}. Run by
// test/unit/blockdev-fifo.test.ts with a timeout: before the fix each of these
// blocked in open(2) or read(2) forever, and the process could not exit.
// node fifo-ops.mjs <fifo> <scratch dir> <regular file>
import { join } from 'node:path';
import { load } from './common.mjs';

const [fifo, dir, regular] = process.argv.slice(2);
const lib = await load('index.js');
const ac = new globalThis.AbortController();
const ops = {
  inspect: () => lib.inspect(fifo),
  copySource: () => lib.copyRawData(fifo, join(dir, 'copy.raw'), { signal: ac.signal }),
  copyDestination: () => lib.copyRawData(regular, fifo, { dstMode: 'existing', signal: ac.signal }),
  blockDeviceSize: () => lib.blockDeviceSize(fifo),
  fallocate: () => lib.fallocateFile(fifo, { size: 4096 }),
  zeroRange: () => lib.zeroRange(fifo),
  overlayBase: () => lib.createQcow2Overlay(join(dir, 'overlay.qcow2'), { backingFile: fifo, backingFormat: 'raw' }),
  diskInfo: () => new lib.DiskInfo(fifo).read(),
};
for (const [op, run] of Object.entries(ops)) {
  try {
    await run();
    console.log(JSON.stringify({ op, code: 'resolved' }));
  } catch (error) {
    console.log(JSON.stringify({ op, code: error.code, name: error.constructor?.name, message: error.message }));
  }
}
