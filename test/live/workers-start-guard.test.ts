/**
 * The start guard of pool mode (live/start-guard.ts) on a hand-driven clock: backoff values worked
 * out by hand, the breaker's closed → open → half-open → closed cycle, one trial at a time, and a
 * property test of the backoff's bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoff_ms, StartGuard } from '../../live/start-guard.ts';

const CFG = { initial_ms: 500, max_ms: 30_000, open_after: 5, stable_ms: 10_000 };

function guard() {
  const clock = { t: 0 };
  return { clock, g: new StartGuard(CFG, () => clock.t) };
}

describe('backoff_ms', () => {
  it('doubles from initial_ms up to max_ms, each scaled by a jitter in (0.8, 1] that depends only on (profile, k)', () => {
    // un-jittered: 500, 1000, 2000, 4000, 8000, 16000, 30000 (capped), 30000
    const bases = [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];
    bases.forEach((base, i) => {
      const d = backoff_ms(CFG, 'echo', i + 1);
      expect(d).toBeGreaterThan(0.8 * base);
      expect(d).toBeLessThanOrEqual(base);
      expect(backoff_ms(CFG, 'echo', i + 1)).toBe(d); // deterministic
    });
    // a huge k neither overflows nor passes max
    expect(backoff_ms(CFG, 'echo', 10_000)).toBeLessThanOrEqual(30_000);
  });

  it('property: for any settings and k, 0.8·min(max, initial·2^(k-1)) < delay ≤ min(max, initial·2^(k-1))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 60_000 }),
        fc.integer({ min: 100, max: 3_600_000 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.string({ maxLength: 64 }),
        (initial_ms, max_ms, k, profile) => {
          const base = Math.min(max_ms, initial_ms * 2 ** Math.min(k - 1, 52));
          const d = backoff_ms({ initial_ms, max_ms }, profile, k);
          return Number.isInteger(d) && d >= Math.floor(0.8 * base) && d <= base;
        },
      ),
    );
  });
});

describe('StartGuard', () => {
  it('lets starts go at once while nothing failed', () => {
    const { g } = guard();
    expect(g.wait_ms('echo')).toBe(0);
    g.began('echo');
    g.began('echo');
    expect(g.wait_ms('echo')).toBe(0);
    expect(g.state('echo')).toBe('closed');
  });

  it('backs off after each failure, one trial at a time, and opens after open_after failures in a row', () => {
    const { clock, g } = guard();
    let t = 0;
    for (let k = 1; k <= 4; k++) {
      g.began('echo');
      const r = g.failed('echo', 'exited with code 1');
      expect(r).toMatchObject({ failures: k, opened: false, state: 'closed' });
      expect(r.delay_ms).toBe(backoff_ms(CFG, 'echo', k));
      expect(g.wait_ms('echo')).toBe(r.delay_ms);
      expect(g.refusing('echo')).toBe(false); // still closed: requests wait for a start
      t += r.delay_ms;
      clock.t = t;
      expect(g.wait_ms('echo')).toBe(0);
      g.began('echo');
      expect(g.wait_ms('echo')).toBeUndefined(); // a trial is in flight: no second start
    }
    const fifth = g.failed('echo', 'exited with code 1');
    expect(fifth).toMatchObject({ failures: 5, opened: true, state: 'open' });
    expect(g.refusing('echo')).toBe(true);
    expect(g.retryAfter_s('echo')).toBe(Math.ceil(fifth.delay_ms / 1000));
    expect(g.lastReason('echo')).toBe('exited with code 1');
    // another profile is not affected
    expect(g.state('other')).toBe('closed');
    expect(g.wait_ms('other')).toBe(0);
  });

  it('half-open after the delay: a failed trial re-opens it for longer, a ready line closes it', () => {
    const { clock, g } = guard();
    for (let k = 1; k <= 5; k++) g.failed('echo', 'x');
    const d5 = backoff_ms(CFG, 'echo', 5);
    clock.t = d5 - 1;
    expect(g.state('echo')).toBe('open');
    expect(g.retryAfter_s('echo')).toBe(1);
    clock.t = d5;
    expect(g.state('echo')).toBe('half-open');
    expect(g.refusing('echo')).toBe(true); // nothing has started yet
    g.began('echo');
    const again = g.failed('echo', 'still broken');
    expect(again).toMatchObject({ failures: 6, opened: false, state: 'open', delay_ms: backoff_ms(CFG, 'echo', 6) });
    clock.t = d5 + again.delay_ms;
    g.began('echo');
    g.ready('echo');
    expect(g.state('echo')).toBe('closed');
    expect(g.wait_ms('echo')).toBe(0);
    // …but the count is kept until a worker has been up stable_ms: dying right after ready re-opens at once
    expect(g.failures('echo')).toBe(6);
    expect(g.failed('echo', 'died after ready')).toMatchObject({ failures: 7, opened: true, state: 'open' });
  });

  it('forgets the failures once a ready worker has run stable_ms', () => {
    const { g } = guard();
    for (let k = 1; k <= 3; k++) g.failed('echo', 'x');
    g.ready('echo');
    g.running('echo', 9_999);
    expect(g.failures('echo')).toBe(3);
    g.running('echo', 10_000);
    expect(g.failures('echo')).toBe(0);
    expect(g.failed('echo', 'y')).toMatchObject({ failures: 1, delay_ms: backoff_ms(CFG, 'echo', 1) });
  });
});
