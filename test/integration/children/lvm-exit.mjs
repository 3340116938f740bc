// Runs liblvm2cmd commands on the LVM thread, then ends the process the way
// argv[2] says: 'midflight' calls process.exit while commands are queued and
// one is running; 'natural' lets them finish and the event loop empty;
// 'worker' does the same inside a worker thread that is then terminated.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const addon = require('node-gyp-build')(fileURLToPath(new URL('../../..', import.meta.url)));
const mode = isMainThread ? process.argv[2] : workerData;
const cmd = "vgs --config 'global/activation=0 report/output_format=json'";

if (mode === 'midflight') {
  for (let i = 0; i < 5; i++) addon.lvm2Run(cmd);
  setTimeout(() => process.exit(0), 30);
} else if (mode === 'natural') {
  const results = await Promise.all([addon.lvm2Run(cmd), addon.lvm2Run(cmd)]);
  if (!results.every((r) => r.status === 1)) throw new Error(`lvm2_run returned ${results.map((r) => r.status)}`);
} else if (mode === 'worker' && isMainThread) {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: 'worker' });
  worker.on('message', () => worker.terminate());
  await new Promise((resolve) => worker.on('exit', resolve));
  const after = await addon.lvm2Run(cmd); // the thread serves the main thread after the worker went
  if (after.status !== 1) throw new Error(`lvm2_run after the worker returned ${after.status}`);
} else if (mode === 'worker') {
  const { parentPort } = await import('node:worker_threads');
  for (let i = 0; i < 3; i++) addon.lvm2Run(cmd);
  parentPort.postMessage('started');
}
