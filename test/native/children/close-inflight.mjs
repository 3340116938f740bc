// close() with operations in flight: they finish, close resolves, exit is clean.
import { addon, connect, pool } from './common.mjs';

const h = await connect();
const name = `close-${process.pid}`;
const ops = [addon.rbdImport(h, pool, name, process.env.IMPORT_FILE, {})];
for (let i = 0; i < 20; i++) ops.push(addon.rbdList(h, pool));
const closed = addon.rbdClose(h);
const results = await Promise.allSettled(ops);
await closed;
const failed = results.filter((r) => r.status === 'rejected');
if (failed.length) {
  console.error(failed.map((r) => r.reason.message));
  process.exit(3);
}
// The import completed before close: remove it through a fresh connection.
const again = await connect();
await addon.rbdRemove(again, pool, name);
await addon.rbdClose(again);
console.log('closed after', results.length, 'operations');
