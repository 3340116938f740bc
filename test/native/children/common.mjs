// Shared by the child-process tests: load the addon straight from the build
// and connect as the compute user described by the environment.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const addon = require('node-gyp-build')(fileURLToPath(new URL('../../..', import.meta.url)));

export function connect() {
  return addon.rbdConnect({
    cephConf: process.env.CEPH_CONF,
    user: process.env.CEPH_CLIENT_USER,
    keyring: process.env.CEPH_CLIENT_KEYRING,
    connectTimeoutMs: 10000,
    opTimeoutMs: 30000,
  });
}

export const pool = process.env.CEPH_POOL ?? 'vms';
