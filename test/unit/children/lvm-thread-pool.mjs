// With one libuv pool thread (UV_THREADPOOL_SIZE=1), queues liblvm2cmd
// commands and then an fs call, and prints the order they finished in as
// JSON. LVM work completes through the thread-safe-function path, so the fs
// call must not wait behind the commands (it did when each command held the
// pool thread while waiting for the LVM thread).
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const addon = require('node-gyp-build')(fileURLToPath(new URL('../../..', import.meta.url)));
const cmd = "vgs --config 'global/activation=0 report/output_format=json'";
const order = [];
const lvm = Array.from({ length: 8 }, (_, i) =>
  addon.lvm2Run(cmd).then((r) => order.push(`lvm${i}:${r.status}`)),
);
const fs = stat(fileURLToPath(import.meta.url)).then(() => order.push('fs'));
await Promise.all([...lvm, fs]);
console.log(JSON.stringify(order));
