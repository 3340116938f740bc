'use strict';
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: loaded with node --require */
// Loaded into every node process of the sanitizer run (NODE_OPTIONS=--require,
// set by scripts/asan.sh). libasan has to be preloaded into node to run the
// instrumented addon, but not into the other programs the tests start:
// qemu-img, for one, hangs under a preloaded ASan runtime (its coroutines
// switch stacks with swapcontext). So this process forgets LD_PRELOAD, and
// puts it back only for the node processes it starts itself (vitest's
// workers, the tests' child scripts), whatever API started them.
const { ChildProcess } = require('node:child_process');

const preload = process.env.IMAGEBACKEND_ASAN_PRELOAD;
delete process.env.LD_PRELOAD;

if (preload) {
  const spawn = ChildProcess.prototype.spawn;
  ChildProcess.prototype.spawn = function spawnWithPreloadForNode(options) {
    if (options && options.file === process.execPath && Array.isArray(options.envPairs)) {
      options.envPairs = [...options.envPairs.filter((p) => !p.startsWith('LD_PRELOAD=')), `LD_PRELOAD=${preload}`];
    }
    return spawn.call(this, options);
  };
}
