/**
 * sim/vary.ts: the arithmetic of a what-if study, on numbers small enough to check by hand.
 */
import { describe, expect, it } from 'vitest';
import { deltaOf, spreadOf, summariseSeeds } from '../../sim/vary.ts';

describe('deltas against the first variant', () => {
  it('absolute and as a percentage of the first', () => {
    expect(deltaOf(200, 150)).toEqual({ abs: -50, pct: -25 });
    expect(deltaOf(0.5, 0.75)).toEqual({ abs: 0.25, pct: 50 });
    expect(deltaOf(4, 4)).toEqual({ abs: 0, pct: 0 });
  });
  it('from zero: 0 → 0 is no change; 0 → x has no percentage', () => {
    expect(deltaOf(0, 0)).toEqual({ abs: 0, pct: 0 });
    expect(deltaOf(0, 0.01)).toEqual({ abs: 0.01, pct: null });
  });
});

describe('mean and range over seeds', () => {
  it('spreadOf: mean, min, max, count', () => {
    expect(spreadOf([3, 1, 2, 6])).toEqual({ mean: 3, min: 1, max: 6, n: 4 });
    expect(spreadOf([7])).toEqual({ mean: 7, min: 7, max: 7, n: 1 });
    expect(spreadOf([])).toBeNull();
  });

  it('the verdict is decided on the means, and each seed counted on its own', () => {
    // Seed A: engine 0.1 < 0.2 on SLO miss (win) but 100 > 90 ms on p99 (loss): loses.
    // Seed B: engine 0.3 > 0.2 on SLO miss: loses. Means: SLO 0.2 = 0.2 (tie), p99 75 < 80 (win): wins.
    const a = {
      engine: { slo_miss_ratio: 0.1, latency_ms: { p50: 10, p99: 100 } },
      'least-loaded': { slo_miss_ratio: 0.2, latency_ms: { p50: 12, p99: 90 } },
    };
    const b = {
      engine: { slo_miss_ratio: 0.3, latency_ms: { p50: 20, p99: 50 } },
      'least-loaded': { slo_miss_ratio: 0.2, latency_ms: { p50: 16, p99: 70 } },
    };
    const s = summariseSeeds('burst', [a, b]);
    expect(s.policies.engine!['latency_ms.p99']).toEqual({ mean: 75, min: 50, max: 100, n: 2 });
    expect(s.policies.engine!['latency_ms.p50']).toEqual({ mean: 15, min: 10, max: 20, n: 2 });
    expect(s.policies['least-loaded']!['latency_ms.p99']).toEqual({ mean: 80, min: 70, max: 90, n: 2 });
    expect(s.policies.engine!.slo_miss_ratio!.mean).toBeCloseTo(0.2, 12);
    // Figures no run has are left out, not zero.
    expect(s.policies.engine!.cold_start_ratio).toBeUndefined();
    expect(s.verdict?.scenario).toBe('burst (mean of 2 seeds)');
    expect(s.verdict?.engine_wins).toBe(true);
    expect(s.verdict?.metrics.slice(0, 2).map((m) => [m.metric, m.outcome])).toEqual([
      ['slo_miss_ratio', 'tie'],
      ['latency_ms.p99', 'win'],
    ]);
    expect(s.engine_won).toEqual({ seeds: 0, of: 2 });
  });

  it('without the engine, or without a baseline, there is no verdict', () => {
    expect(summariseSeeds('x', [{ numad: { slo_miss_ratio: 0 } }, { numad: { slo_miss_ratio: 1 } }])).toEqual({
      policies: { numad: { slo_miss_ratio: { mean: 0.5, min: 0, max: 1, n: 2 } } },
    });
    expect(summariseSeeds('x', [{ engine: { slo_miss_ratio: 0 } }]).verdict).toBeUndefined();
  });
});
