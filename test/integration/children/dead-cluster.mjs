// Connects while the cluster is alive, prints "ready", then (once the test
// has stopped the daemons and written "go" on stdin) starts clones and size
// queries that will never get an answer, and ends the way MODE says:
// "exit" calls process.exit(0) after a second; "sigterm" waits to be killed.
// Either way the process must end: nothing may hang it.
import { addon } from '../../native/children/common.mjs';

// What src/rbd/RbdCluster.ts registers on the first connect.
process.once('exit', () => addon.rbdShutdownAll());

const h = await addon.rbdConnect({
  cephConf: process.env.CEPH_CONF,
  user: process.env.CEPH_CLIENT_USER,
  keyring: process.env.CEPH_CLIENT_KEYRING,
  connectTimeoutMs: 5000,
  opTimeoutMs: Number(process.env.OP_TIMEOUT_MS),
});
const pool = process.env.CEPH_POOL;
const parent = process.env.PARENT_IMAGE;
console.log('ready');
await new Promise((resolve) => process.stdin.once('data', resolve));
for (let i = 0; i < 9; i++) {
  addon.rbdClone(h, pool, parent, 'snap', pool, `dead-${process.pid}-${i}`, {}).catch(() => {});
  addon.rbdSize(h, pool, parent).catch(() => {});
}
console.log('started');
if (process.env.MODE === 'exit') setTimeout(() => process.exit(0), 1000);
else {
  const stayAlive = () => setTimeout(stayAlive, 1000);
  stayAlive();
}
