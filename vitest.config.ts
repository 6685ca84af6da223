import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Most test time is waiting (CLI children, agents on loopback, PSI windows), not computing:
    // three files at a time keep this 2-CPU machine busy without one test's load starving another
    // (every test passes beside stress-ng --cpu 4).
    maxWorkers: 3,
    // Tests assert behaviour, never speed (timing targets live in npm run bench): a CLI test that
    // spawns node takes ~2.5 s on an idle 2-CPU machine and several times that with both CPUs busy.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
