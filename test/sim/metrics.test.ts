/**
 * The SLO figures of metrics.json (docs/metrics.md), on hand-made request histories whose
 * expected values are worked out in the comments.
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../sim/metrics.ts';

const req = (profile: string, priority: number, slo_ms: number) => ({
  req: { profile, priority },
  profile: { slo_ms },
});

describe('SLO misses, goodput, and the per-profile and per-priority records', () => {
  it('counts late completions, sheds, failures and overdue unfinished requests as misses', () => {
    const m = new Metrics();
    const api = (p: number) => req('api', p, 100);
    const batch = req('batch', 0, 1000);
    // api: 6 arrivals. Completed in 50, 100 (on time: ≤ SLO), 150 ms (late); one shed; one still
    // waiting after 80 ms (within its SLO: not a miss), one after 250 ms (overdue: a miss).
    for (let i = 0; i < 6; i++) m.arrival(api(i < 3 ? 1 : 2));
    m.completion(api(1), 50_000);
    m.completion(api(1), 100_000);
    m.completion(api(1), 150_000);
    m.dropped(api(2), 'shed');
    m.unfinished(api(2), 80_000);
    m.unfinished(api(2), 250_000);
    // batch: 2 arrivals, one done in 900 ms, one rejected.
    m.arrival(batch);
    m.arrival(batch);
    m.completion(batch, 900_000);
    m.dropped(batch, 'failed');

    const s = m.summary(0, [0], [1], 10);
    // Misses: 1 late + 1 overdue + 1 shed + 1 failed = 4 of 8 arrivals.
    expect(s.slo_miss_ratio).toBe(0.5);
    expect(s.requests).toMatchObject({ arrived: 8, completed: 4, shed: 1, failed: 1, slo_missed: 2, unfinished: 2 });
    // On time: 50, 100 and 900 ms → 3 in 10 simulated seconds.
    expect(s.goodput_per_s).toBe(0.3);
    // api: 3 misses (150 ms, shed, overdue) of 6; its latencies 50/100/150 ms. A percentile is the
    // top of its sample's HdrHistogram bucket (64 µs wide near 100 ms at 3 significant digits:
    // 100 ms reads 100.031), never above the largest sample (150 ms).
    expect(s.by_profile.api).toEqual({
      arrived: 6,
      completed: 3,
      shed: 1,
      failed: 0,
      slo_miss_ratio: 0.5,
      latency_ms: { p50: 100.031, p95: 150, p99: 150 },
    });
    expect(s.by_profile.batch).toMatchObject({ arrived: 2, completed: 1, failed: 1, slo_miss_ratio: 0.5 });
    // Priorities: low = batch (2 arrivals, 1 failed), normal = the three completed api requests (one
    // late), high = the other three api (shed, overdue, one waiting within its SLO).
    expect(Object.keys(s.by_priority)).toEqual(['low', 'normal', 'high']);
    expect(s.by_priority.normal?.slo_miss_ratio).toBeCloseTo(1 / 3, 6);
    expect(s.by_priority.high).toMatchObject({ arrived: 3, completed: 0, shed: 1, slo_miss_ratio: 0.666667 });
  });

  it('a request completed exactly at its SLO is on time; with nothing arrived every ratio is 0', () => {
    const m = new Metrics();
    m.arrival(req('a', 1, 250));
    m.completion(req('a', 1, 250), 250_000);
    expect(m.summary(0, [], [], 1)).toMatchObject({ slo_miss_ratio: 0, goodput_per_s: 1 });
    expect(new Metrics().summary(0, [], [], 0)).toMatchObject({
      slo_miss_ratio: 0,
      goodput_per_s: 0,
      by_profile: {},
      by_priority: {},
    });
  });
});
