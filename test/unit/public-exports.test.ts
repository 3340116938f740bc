// Names the package exports that could shadow each other: the design sketch's
// `Rbd.connect` alias and the Rbd image class (exported as RbdImageBackend).
import { describe, expect, it } from 'vitest';

import { Rbd as RbdImageClass } from '../../src/backends/Rbd.js';
import * as pkg from '../../src/index.js';

describe('public exports', () => {
  it('Rbd is the connect alias; the image class is RbdImageBackend; the backends are classes', () => {
    expect(typeof pkg.Rbd.connect).toBe('function');
    expect(pkg.RbdImageBackend).toBe(RbdImageClass);
    for (const cls of [pkg.Flat, pkg.Qcow2, pkg.Lvm, pkg.RbdImageBackend]) expect(Object.getPrototypeOf(cls)).toBe(pkg.Image);
    expect(new pkg.Backend({ instancesPath: '/nonexistent', imagesType: 'rbd' }).backend()).toBe(RbdImageClass);
  });
});
