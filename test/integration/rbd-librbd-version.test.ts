// The librbd version read at connect (rbd_version through the dlopen
// trampolines) is the library this process loaded, as the package manager
// and the loaded file name say; the snapshot-open/clone gate is on exactly
// for the releases before Reef (README, "Known issues"), and on a gated
// connection snapshot opens and clones running together all succeed.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hasSnapshotOpenRace, type RbdCluster } from '../../src/rbd/RbdCluster.js';
import { cephEnv, connectAdmin, connectClient, uniqueName } from '../helpers/ceph.js';

const MiB = 1 << 20;

// The librbd.so.1 this process mapped, resolved to its real file (librbd.so.1.16.0).
function loadedLibrbd(): string {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const path = maps
    .split('\n')
    .map((line) => line.split(/\s+/)[5] ?? '')
    .find((p) => /\/librbd\.so\.1(\.|$)/.test(p));
  if (!path) throw new Error('librbd.so.1 is not mapped into this process');
  return realpathSync(path);
}

describe('librbd version at connect', () => {
  const env = cephEnv();
  let admin: RbdCluster;
  let client: RbdCluster;

  beforeAll(async () => {
    admin = await connectAdmin(env);
    client = await connectClient(env);
  });
  afterAll(async () => {
    await client?.close();
    await admin?.close();
  });

  it('is what dpkg says is installed and what the process loaded', () => {
    const version = client.librbdVersion;
    const installed = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'librbd1'], { encoding: 'utf8' });
    // dpkg: [epoch:]16.2.15+ds-0+deb12u2; librbd's API version is 1.<Ceph major>.0.
    const cephMajor = Number(/^(?:\d+:)?(\d+)\./.exec(installed)![1]);
    expect(version).toEqual({ major: 1, minor: cephMajor, extra: 0 });
    // The loaded file is named after the same version (librbd.so.1.16.0).
    expect(basename(loadedLibrbd())).toBe(`librbd.so.${version.major}.${version.minor}.${version.extra}`);
    expect(admin.librbdVersion).toEqual(version);
    expect(Object.isFrozen(version)).toBe(true);
  });

  it('the snapshot-open/clone gate is on for the releases before Reef only', () => {
    expect(hasSnapshotOpenRace({ major: 1, minor: 16, extra: 0 })).toBe(true);
    expect(hasSnapshotOpenRace({ major: 1, minor: 17, extra: 0 })).toBe(true);
    expect(hasSnapshotOpenRace({ major: 1, minor: 18, extra: 0 })).toBe(false);
    expect(hasSnapshotOpenRace({ major: 1, minor: 19, extra: 0 })).toBe(false);
    expect(hasSnapshotOpenRace({ major: 2, minor: 0, extra: 0 })).toBe(false);
    expect(client.snapshotOpenGate !== undefined).toBe(client.librbdVersion.minor < 18);
  });

  it('snapshot opens and clones on one connection all succeed together, with the right answers', async () => {
    const base = uniqueName('gatebase');
    const parent = admin.pool(env.pools.images).image(base);
    await parent.create(4 * MiB, { features: 1 });
    await parent.createSnapshot('snap');
    await parent.protectSnapshot('snap');
    const vms = client.pool(env.pools.vms);
    const names = Array.from({ length: 12 }, (_, i) => uniqueName(`gate${i}`));
    const source = client.pool(env.pools.images).image(base);
    try {
      const results = await Promise.all([
        ...names.map((n) => source.clone('snap', vms, n)),
        ...names.map(() => source.stat('snap')),
        ...names.map((n) => vms.image(n).parentInfo().catch(() => null)),
      ]);
      const stats = results.slice(names.length, 2 * names.length) as Array<{ size: bigint }>;
      for (const s of stats) expect(s.size).toBe(BigInt(4 * MiB));
      for (const n of names) {
        expect(await vms.image(n).parentInfo()).toMatchObject({ image: base, snapshot: 'snap' });
        expect(await vms.image(n).size()).toBe(BigInt(4 * MiB));
      }
    } finally {
      for (const n of names) await vms.image(n).remove().catch(() => undefined);
      await parent.unprotectSnapshot('snap');
      await parent.removeSnapshot('snap');
      await parent.remove();
    }
  });
});
