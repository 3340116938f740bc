// Leaves a cluster open (with its io-context) and lets the process end.
import { addon, connect, pool } from './common.mjs';

const h = await connect();
await addon.rbdList(h, pool);
console.log('listed; exiting with the cluster open');
