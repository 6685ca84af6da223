import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Tests assert behaviour, never speed (timing targets live in npm run bench): a CLI test that
    // spawns node takes ~2.5 s on an idle 2-CPU machine and several times that with both CPUs busy.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
