/**
 * Helpers for the end-to-end tests of the real `fgo live` agent in pool mode
 * (test/live/agent-pool.test.ts): bench/pool-agent.ts's harness, agent control and HTTP client,
 * and a fresh harness per test, torn down after it.
 */
import { afterEach, beforeEach } from 'vitest';
import { harness, teardown, type Harness } from '../../bench/pool-agent.ts';

export * from '../../bench/pool-agent.ts';

/**
 * A fresh harness for each test of the calling file, torn down after it: call the getter inside a
 * test, or pass `set` to have it assigned to the file's own variable before each test.
 */
export function eachHarness(set?: (h: Harness) => void): () => Harness {
  let h: Harness;
  beforeEach(() => {
    h = harness();
    set?.(h);
  });
  afterEach(async () => {
    await teardown(h);
  }, 40_000);
  return () => h;
}
