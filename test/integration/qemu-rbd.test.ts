// `qemu-img info` of an RBD image, as nova allows (`rbd:` paths), against the
// real test cluster as the restricted compute user, through qemu's rbd driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QemuImg } from '../../src/qemu/index.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { rejection } from '../helpers/assert.js';
import { cephEnv, connectAdmin, uniqueName } from '../helpers/ceph.js';

const MiB = 1 << 20;

describe('QemuImg.info of an RBD image', () => {
  const env = cephEnv();
  const qemu = new QemuImg();
  const name = uniqueName('qemu-info');
  let admin: RbdCluster;

  beforeAll(async () => {
    admin = await connectAdmin(env);
    await admin.pool(env.pools.vms).image(name).create(24 * MiB);
  });
  afterAll(async () => {
    await admin?.pool(env.pools.vms).image(name).remove().catch(() => undefined);
    await admin?.close();
  });

  const source = () => ({ pool: env.pools.vms, image: name, user: env.client.user, conf: env.conf, keyring: env.client.keyring });

  it('describes the image through qemu-img rbd: with the compute user (raw by default)', async () => {
    const info = await qemu.info(source());
    expect(info.format).toBe('raw');
    expect(info.virtualSize).toBe(24 * MiB);
    expect(info.filename).toContain(name); // qemu names it json:{"driver":"raw","file":{"pool":…,"image":…}}
  });

  it('a missing image is INVALID_DISK_INFO with qemu-img\'s message', async () => {
    const error = await rejection(qemu.info({ ...source(), image: uniqueName('missing') }));
    expect(error.code).toBe('INVALID_DISK_INFO');
    expect(error.process?.stderr).toMatch(/No such file or directory|error opening image|Could not open/i);
  });

  it('another format than raw needs trusted (its header cannot be inspected before qemu-img reads it)', async () => {
    expect((await rejection(qemu.info(source(), { format: 'qcow2' }))).code).toBe('IMAGE_UNSAFE');
    // Trusted, qemu-img runs, and says the raw image is not qcow2.
    expect((await rejection(qemu.info(source(), { format: 'qcow2', trusted: true }))).code).toBe('INVALID_DISK_INFO');
  });

  it('validates the parts: nothing can smuggle an option into the rbd: name', async () => {
    expect((await rejection(qemu.info({ ...source(), image: 'x:conf=/etc/passwd' }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(qemu.info({ ...source(), pool: 'vms/../x' }))).code).toBe('INVALID_ARGUMENT');
  });
});
