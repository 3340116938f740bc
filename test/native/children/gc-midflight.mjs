// Drops the last reference to the handle while operations run, then forces GC:
// the operations still complete (they hold the handle) and the finalizer
// shuts the connection down later without crashing.
import { addon, connect, pool } from './common.mjs';

let h = await connect();
const ops = [];
for (let i = 0; i < 10; i++) ops.push(addon.rbdList(h, pool));
h = null;
globalThis.gc();
const lists = await Promise.all(ops);
for (let i = 0; i < 5; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
}
console.log('lists', lists.length);
