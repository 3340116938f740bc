// Names the package exports that could shadow each other: the design sketch's
// `Rbd.connect` alias and the rbd disk store (exported as RbdStore).
import { describe, expect, it } from 'vitest';

import { RbdStore } from '../../src/backends/RbdStore.js';
import * as pkg from '../../src/index.js';

describe('public exports', () => {
  it('Rbd is the connect alias; the rbd store is RbdStore; the stores are classes behind one Disk handle', () => {
    expect(typeof pkg.Rbd.connect).toBe('function');
    expect(pkg.RbdStore).toBe(RbdStore);
    for (const cls of [pkg.FlatStore, pkg.Qcow2Store, pkg.LvmStore, pkg.RbdStore]) expect(typeof cls).toBe('function');
    expect(Object.getPrototypeOf(pkg.FlatStore)).toBe(pkg.FileStore);
    expect(Object.getPrototypeOf(pkg.Qcow2Store)).toBe(pkg.FileStore);
    expect(new pkg.Backend({ instancesPath: '/nonexistent', imagesType: 'rbd' }).storeClass()).toBe(RbdStore);
    expect(typeof pkg.Disk).toBe('function');
    expect(typeof pkg.provision).toBe('function');
  });
});
