// An RBD import killed half-way (issue 13): the process dies with SIGKILL
// mid-import; the image name must stay absent (exists() false, so cache()
// imports again) and the next import must succeed with the right bytes. The
// leftover staging image is swept by a later import once Ceph has dropped
// the dead client's watch (osd_client_watch_timeout, 30 s by default).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { isStagingOf } from '../../src/rbd/staging.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';
import { denseFile, sha256, tempDir } from '../helpers/files.js';
import { compileLibrary, startChild } from '../unit/helpers/compiled.js';

const MiB = 1 << 20;

describe('an RBD import killed half-way', () => {
  const env = cephEnv();
  let driver: RbdDriver;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let lib: Awaited<ReturnType<typeof compileLibrary>>;
  let file: string;

  beforeAll(async () => {
    tmp = await tempDir();
    file = join(tmp.dir, 'base.raw');
    await denseFile(file, 192 * MiB);
    driver = clientDriver(env);
    lib = await compileLibrary();
    Object.assign(process.env, {
      CEPH_CONF: env.conf,
      CEPH_CLIENT_USER: env.client.user,
      CEPH_CLIENT_KEYRING: env.client.keyring,
      CEPH_POOL: env.pools.vms,
    });
  });
  afterAll(async () => {
    await driver?.close();
    await tmp?.cleanup();
    await lib?.cleanup();
  });

  // The image's watchers; none when it is gone.
  const watchers = async (image: string): Promise<unknown[]> => {
    if (!(await (await driver.cluster()).pool(env.pools.vms).list()).includes(image)) return [];
    const args = ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, 'status', '--format', 'json'];
    const out = execFileSync('rbd', [...args, `${env.pools.vms}/${image}`], { encoding: 'utf8' });
    return (JSON.parse(out) as { watchers: unknown[] }).watchers;
  };

  it('leaves no image under the name; the next import succeeds; the leftover is swept later', async () => {
    const name = uniqueName('killed');
    const child = startChild(lib.dist, '../../integration/children/import-progress.mjs', [file, name]);
    // Well past the start, well before the end (192 MiB).
    await child.line((l) => l.startsWith('progress ') && Number(l.slice(9)) >= 48 * MiB);
    child.kill('SIGKILL');
    const ended = await child.done;
    expect(ended.signal).toBe('SIGKILL');
    expect(ended.stdout).not.toContain('imported');

    // The name is absent: a partial image is never taken for the real one.
    expect(await driver.exists(name)).toBe(false);
    await expect(driver.size(name)).rejects.toMatchObject({ code: 'RBD_NOT_FOUND' });
    const leftovers = (await (await driver.cluster()).pool(env.pools.vms).list()).filter((n) => isStagingOf(n, name));
    expect(leftovers.length).toBe(1);

    // The next import (the dead client's watch may still hold the leftover) succeeds.
    const result = await driver.importImage(file, name);
    expect(result.size).toBe(BigInt(192 * MiB));
    const out = join(tmp.dir, 'back.raw');
    await driver.exportImage(out, name);
    expect(await sha256(out)).toBe(await sha256(file));

    // Once the watch is gone (if it was not already, and the import above swept
    // the leftover), the next import of the name sweeps the leftover.
    const deadline = Date.now() + 60_000;
    while ((await watchers(leftovers[0]!)).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(await watchers(leftovers[0]!)).toEqual([]);
    await driver.destroyVolume(name);
    const small = join(tmp.dir, 'small.raw');
    await denseFile(small, MiB);
    await driver.importImage(small, name);
    const names = await (await driver.cluster()).pool(env.pools.vms).list();
    expect(names.filter((n) => n.startsWith(name))).toEqual([name]);
    await driver.destroyVolume(name);
  }, 150_000);
});
