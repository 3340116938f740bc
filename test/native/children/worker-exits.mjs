// Worker threads with their own RBD connections exit (naturally, through
// process.exit() in the worker, or terminate() mid-import) while the main
// thread keeps importing. Each worker registers the exit hook RbdCluster
// installs (process 'exit' -> rbdShutdownAll), which fires in a worker when
// it ends. Prints one JSON line: main-thread imports done and failed, and
// RSS after the warm-up and at the end.
import { Worker } from 'node:worker_threads';

import { addon, connect, pool } from './common.mjs';

const WORKERS = Number(process.env.WORKERS ?? 24);
const WARMUP = 4;
process.once('exit', () => addon.rbdShutdownAll());

const workerCode = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.common).then(async ({ addon, connect, pool }) => {
    process.once('exit', () => addon.rbdShutdownAll());
    const h = await connect();
    const name = 'wexit-' + process.pid + '-' + workerData.i;
    const started = addon.rbdImport(h, pool, name, process.env.IMPORT_FILE, {
      chunkSize: 1 << 20,
      concurrency: 8,
      onProgress: (done) => done > 0 && parentPort.postMessage('importing'),
    }).catch(() => {});
    for (let i = 0; i < 5; i++) addon.rbdList(h, pool).catch(() => {});
    if (workerData.mode === 'exit') {
      await new Promise((r) => parentPort.once('message', r));
      process.exit(0);
    }
    setInterval(() => {}, 1000);
  });
`;

const common = new URL('./common.mjs', import.meta.url).href;
const h = await connect();
let running = true;
let done = 0;
const failures = [];
const mainLoop = (async () => {
  for (let i = 0; running; i++) {
    const name = `wmain-${process.pid}-${i}`;
    try {
      await addon.rbdImport(h, pool, name, process.env.IMPORT_FILE, { chunkSize: 1 << 20, concurrency: 2 });
      await addon.rbdRemove(h, pool, name);
      done++;
    } catch (error) {
      failures.push(`${error.code} ${error.message}`);
      await addon.rbdRemove(h, pool, name).catch(() => {});
    }
  }
})();

let rssWarm = 0;
for (let i = 0; i < WORKERS; i++) {
  const mode = i % 3 === 0 ? 'exit' : 'terminate';
  const worker = new Worker(workerCode, { eval: true, workerData: { common, i, mode } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (mode === 'exit') {
    worker.postMessage('go');
    await new Promise((resolve) => worker.once('exit', resolve));
  } else {
    await worker.terminate();
  }
  if (i + 1 === WARMUP) rssWarm = process.memoryUsage().rss;
}
const rssEnd = process.memoryUsage().rss;
running = false;
await mainLoop;
// Leftovers of the workers' aborted imports: removed by the abort path.
const left = (await addon.rbdList(h, pool)).filter((n) => n.startsWith(`wexit-${process.pid}-`));
await addon.rbdClose(h);
console.log(JSON.stringify({ done, failures, rssWarm, rssEnd, workers: WORKERS, left }));
