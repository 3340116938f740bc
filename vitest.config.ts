import { defineConfig } from 'vitest/config';

// Two tiers. `unit` needs nothing but Node and the tools it generates data
// with; `integration` (test/native and test/integration) runs against the
// project's own throwaway Ceph cluster, real qemu-img and real lvm2.
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/native/**/*.test.ts', 'test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
