// LVM metadata operations: the library's liblvm2cmd runner (lvm2 in this
// process) against its `lvm` CLI runner, both through the same Lvm2Driver
// calls: createVolume → volumeInfo + listVolumes → removeVolumes. The VG is
// our own, on a sparse file behind a fresh loop device (not ctx.loop, which
// the zero group uses), built like test/helpers/lvm.ts and always torn down.
// Where the kernel has no device-mapper both runners run with
// global/activation=0 ('auto'): volumes get metadata only, which is what this
// row measures (no device nodes, no udev).
import { randomBytes } from 'node:crypto';
import { rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { GiB, MiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

const LV_SIZE = 8 * MiB;

async function scratchVolumeGroup(ctx, { hasDeviceMapper }) {
  const name = `ibbench${randomBytes(4).toString('hex')}`;
  const file = join(ctx.work, `${name}.img`);
  await writeFile(file, '');
  await truncate(file, 2 * GiB);
  const activation = await hasDeviceMapper();
  let device = '';
  const config = () => [...(activation ? [] : ['global/activation=0']), `devices/filter=["a|^${device}$|","r|.*|"]`].join(' ');
  const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1', LC_ALL: 'C' };
  const lvm = (sub, ...rest) => run('lvm', [sub, '--config', config(), ...rest], { env });
  const cleanups = [];
  const destroy = async () => {
    const failures = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        failures.push(error.message);
      }
    }
    cleanups.length = 0;
    await rm(file, { force: true });
    if (failures.length > 0) throw new Error(`lvm bench teardown: ${failures.join('; ')}`);
  };
  try {
    device = (await run('losetup', ['-f', '--show', file])).stdout.trim();
    cleanups.push(() => run('losetup', ['-d', device]));
    await lvm('pvcreate', '-q', device);
    cleanups.push(() => lvm('pvremove', '-q', '-ff', '-y', device));
    await lvm('vgcreate', '-q', name, device);
    cleanups.push(() => lvm('vgremove', '-q', '-f', name));
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
  return { name, device, activation, destroy };
}

export default {
  name: 'lvm',
  order: 60,
  needs: [],
  async run(ctx) {
    const { createLvmDriver, hasDeviceMapper } = ctx.lib;
    const vg = await scratchVolumeGroup(ctx, { hasDeviceMapper });
    const drivers = {};
    try {
      for (const runner of ['lib', 'cli']) {
        drivers[runner] = createLvmDriver({ runner, devices: [vg.device], activation: 'auto' });
      }
      const lvName = (key, i) => `bench-${key}-${i}`;
      const cycle = (driver, key) => async (i) => {
        const created = await driver.createVolume(vg.name, lvName(key, i), LV_SIZE);
        const info = await driver.volumeInfo(created.path);
        const names = await driver.listVolumes(vg.name);
        if (info.size !== created.size || !names.includes(lvName(key, i))) {
          throw new Error(`lvm bench: unexpected info ${JSON.stringify({ info: info.size, created, names })}`);
        }
        await driver.removeVolumes([created.path]);
      };
      const mode = await drivers.lib.mode();
      const stats = await measure(
        [
          { key: 'ours', fn: cycle(drivers.lib, 'lib'), reps: repsFor(ctx, { full: 60, quick: 10 }) },
          { key: 'cli', fn: cycle(drivers.cli, 'cli') },
        ],
        { reps: repsFor(ctx, { full: 30, quick: 5 }), warmup: 2 },
      );
      return [
        compareRow({
          group: 'lvm',
          operation: 'LVM metadata ops (create + info + remove of one volume)',
          stats,
          labels: {
            ours: "LvmDriver, runner 'lib' (liblvm2cmd in process)",
            cli: "LvmDriver, runner 'cli' (lvm processes)",
          },
          context: `lvm2 ${mode === 'activation' ? 'with activation' : 'without device-mapper (global/activation=0, metadata only)'}; ${LV_SIZE / MiB} MiB volume on a loop-device VG`,
          details: { mode, volumeSize: LV_SIZE, calls: ['createVolume', 'volumeInfo', 'listVolumes', 'removeVolumes'] },
        }),
      ];
    } finally {
      for (const d of Object.values(drivers)) await d.close().catch(() => undefined);
      await vg.destroy();
    }
  },
};
