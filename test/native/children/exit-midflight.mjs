// Calls process.exit() while an import and many small operations are running.
import { addon, connect, pool } from './common.mjs';

// What src/rbd/RbdCluster.ts registers on the first connect.
process.once('exit', () => addon.rbdShutdownAll());

const h = await connect();
const name = `exit-${process.pid}`;
addon.rbdImport(h, pool, name, process.env.IMPORT_FILE, {}).catch(() => {});
for (let i = 0; i < 20; i++) addon.rbdList(h, pool).catch(() => {});
setTimeout(() => process.exit(0), Number(process.env.EXIT_MS ?? 50));
