// The snapshot-open/clone gate (the librbd 16.2 race workaround, README
// "Known issues"): calls of one kind run together, the other kind waits, and
// neither kind starves. The gate is pure scheduling; the real connection's
// use of it is in test/integration/rbd-librbd-version.test.ts.
import { describe, expect, it } from 'vitest';

import { SnapshotOpenGate, type GatedCall } from '../../src/rbd/SnapshotOpenGate.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('SnapshotOpenGate', () => {
  // Enters `kind` and records when it got in; returns its leave function once in.
  function entrant(gate: SnapshotOpenGate, kind: GatedCall, log: string[], label: string) {
    return gate.enter(kind).then((leave) => {
      log.push(label);
      return leave;
    });
  }

  it('lets calls of one kind run together and holds the other kind until they are all done', async () => {
    const gate = new SnapshotOpenGate();
    const log: string[] = [];
    const c1 = entrant(gate, 'clone', log, 'c1');
    const c2 = entrant(gate, 'clone', log, 'c2');
    const s1 = entrant(gate, 'snapshotOpen', log, 's1');
    await tick();
    expect(log).toEqual(['c1', 'c2']);
    (await c1)();
    await tick();
    expect(log).toEqual(['c1', 'c2']);
    (await c2)();
    await tick();
    expect(log).toEqual(['c1', 'c2', 's1']);
    (await s1)();
  });

  it('a waiter of the other kind stops new calls of the running kind from joining; they go after it', async () => {
    const gate = new SnapshotOpenGate();
    const log: string[] = [];
    const c1 = entrant(gate, 'clone', log, 'c1');
    const s1 = entrant(gate, 'snapshotOpen', log, 's1');
    const c2 = entrant(gate, 'clone', log, 'c2');
    const s2 = entrant(gate, 'snapshotOpen', log, 's2');
    await tick();
    expect(log).toEqual(['c1']);
    (await c1)();
    await tick();
    // Every waiting snapshot open goes in together, ahead of the later clone.
    expect(log).toEqual(['c1', 's1', 's2']);
    (await s1)();
    await tick();
    expect(log).toEqual(['c1', 's1', 's2']);
    (await s2)();
    await tick();
    expect(log).toEqual(['c1', 's1', 's2', 'c2']);
    (await c2)();
  });

  it('a leave function called twice counts once', async () => {
    const gate = new SnapshotOpenGate();
    const log: string[] = [];
    const c1 = await entrant(gate, 'clone', log, 'c1');
    const c2 = entrant(gate, 'clone', log, 'c2');
    const s1 = entrant(gate, 'snapshotOpen', log, 's1');
    await tick();
    expect(log).toEqual(['c1', 'c2']);
    c1();
    c1();
    await tick();
    // c2 still runs: a second count would have let the snapshot open in.
    expect(log).toEqual(['c1', 'c2']);
    (await c2)();
    await tick();
    expect(log).toEqual(['c1', 'c2', 's1']);
    (await s1)();
  });

  it('an idle gate admits either kind at once', async () => {
    const gate = new SnapshotOpenGate();
    (await gate.enter('snapshotOpen'))();
    (await gate.enter('clone'))();
    (await gate.enter('snapshotOpen'))();
  });
});
