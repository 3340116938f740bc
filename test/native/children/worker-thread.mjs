// A worker thread connects and is terminated mid-operation: the env cleanup
// hook of the worker shuts its connection down; the process exits cleanly.
import { Worker } from 'node:worker_threads';

const code = `
  import('${new URL('./common.mjs', import.meta.url).href}').then(async ({ addon, connect, pool }) => {
    const h = await connect();
    await addon.rbdList(h, pool);
    for (let i = 0; i < 10; i++) addon.rbdList(h, pool).catch(() => {});
    require('node:worker_threads').parentPort.postMessage('ready');
    setInterval(() => {}, 1000);
  });
`;
const worker = new Worker(code, { eval: true });
await new Promise((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});
await worker.terminate();
const second = new Worker(code, { eval: true });
await new Promise((resolve) => second.once('message', resolve));
// This one ends by itself when the main thread exits.
console.log('workers done');
process.exit(0);
