import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PressureValues } from '../../engine/admission.ts';
import { defaultConfig } from '../../engine/config.ts';
import { decideScaling, type PoolShape } from '../../engine/scaling.ts';
import type { Prediction } from '../../engine/types.ts';

const T = defaultConfig().pressure.thresholds; // cpu medium 0.6, memory medium 0.5
const calm: PressureValues = { cpu: 0, memory: 0, io: 0 };
const P = (cpu: number, memory: number, io = 0): PressureValues => ({ cpu, memory, io });

const pool = (over: Partial<PoolShape> = {}): PoolShape => ({
  profile: 'fn',
  size: 4,
  warm: 2,
  min: 0,
  max: 64,
  target: 0,
  ...over,
});
const pred = (recommended_size: number, demand_per_s = 1, confidence = 0.9): Prediction => ({
  profile: 'fn',
  demand_per_s,
  recommended_size,
  confidence,
});

describe('decideScaling: direction', () => {
  it('the thresholds it relies on', () => {
    expect(T.cpu.medium).toBe(0.6);
    expect(T.memory.medium).toBe(0.5);
  });

  it('up to the recommended size', () => {
    const d = decideScaling(pool({ size: 4, warm: 2 }), pred(6, 2, 0.9), calm, T);
    expect(d).toEqual({
      profile: 'fn',
      action: 'up',
      current: 4,
      target: 6,
      confidence: 0.9,
      urgency: 'medium', // diff 6 − 4 = 2 ≥ max(1, 4 / 2 = 2)
      reason: 'predicted 2/s asks for 6: 4 → 6',
    });
  });

  it('down to the recommended size, with low urgency', () => {
    const d = decideScaling(pool({ size: 8, warm: 5 }), pred(5), calm, T);
    expect(d.action).toBe('down');
    expect(d.target).toBe(5);
    expect(d.urgency).toBe('low');
    expect(d.reason).toBe('predicted 1/s asks for 5: 8 → 5');
  });

  it('down even with nothing warm: shrinking is never urgent', () => {
    const d = decideScaling(pool({ size: 8, warm: 0 }), pred(1, 5), calm, T);
    expect(d.action).toBe('down');
    expect(d.urgency).toBe('low');
  });

  it('none when already at the recommended size', () => {
    const d = decideScaling(pool({ size: 4 }), pred(4), calm, T);
    expect(d.action).toBe('none');
    expect(d.target).toBe(4);
    expect(d.urgency).toBe('none');
    expect(d.reason).toBe('predicted 1/s asks for 4: 4 → 4');
  });

  it('formats the demand to three decimals in the reason', () => {
    const d = decideScaling(pool({ size: 4 }), pred(4, 1.23456), calm, T);
    expect(d.reason).toBe('predicted 1.235/s asks for 4: 4 → 4'); // round(1234.56) / 1000 = 1.235
  });
});

describe('decideScaling: pressure rules', () => {
  it('cpu above medium holds growth at the current size', () => {
    const d = decideScaling(pool({ size: 4 }), pred(8), P(0.61, 0), T);
    expect(d.action).toBe('none'); // target 8 → held at 4
    expect(d.target).toBe(4);
    expect(d.reason).toBe('predicted 1/s asks for 8; cpu pressure 0.61 > medium 0.6: no growth: 4 → 4');
  });

  it('cpu exactly at medium does not hold growth (strict >)', () => {
    const d = decideScaling(pool({ size: 4 }), pred(8), P(0.6, 0), T);
    expect(d.action).toBe('up');
    expect(d.target).toBe(8);
    expect(d.reason).not.toMatch(/cpu/);
  });

  it('cpu above medium does not stop a shrink', () => {
    const d = decideScaling(pool({ size: 8 }), pred(5), P(0.95, 0), T);
    expect(d.action).toBe('down');
    expect(d.target).toBe(5);
    expect(d.reason).not.toMatch(/cpu/); // rule did not apply: target 5 is not above current 8
  });

  it('memory above medium shrinks by exactly one from the current size', () => {
    // recommended 8 = current: memory rule → 8 − 1 = 7
    const same = decideScaling(pool({ size: 8 }), pred(8), P(0, 0.51), T);
    expect(same.action).toBe('down');
    expect(same.target).toBe(7);
    expect(same.urgency).toBe('low');
    expect(same.reason).toBe('predicted 1/s asks for 8; memory pressure 0.51 > medium 0.5: shrink by one: 8 → 7');
    // recommended 12 > current: still only 8 − 1 = 7, not growth
    expect(decideScaling(pool({ size: 8 }), pred(12), P(0, 0.51), T).target).toBe(7);
  });

  it('memory above medium leaves a deeper shrink alone', () => {
    // recommended 3 ≤ 8 − 1 = 7: the rule does not raise it, and does not apply
    const d = decideScaling(pool({ size: 8 }), pred(3), P(0, 0.9), T);
    expect(d.target).toBe(3);
    expect(d.reason).not.toMatch(/memory/);
    // recommended exactly current − 1 = 7: no change either (7 > 7 is false)
    expect(decideScaling(pool({ size: 8 }), pred(7), P(0, 0.9), T).reason).not.toMatch(/memory/);
  });

  it('memory exactly at medium does not shrink (strict >)', () => {
    const d = decideScaling(pool({ size: 8 }), pred(8), P(0, 0.5), T);
    expect(d.action).toBe('none');
    expect(d.target).toBe(8);
  });

  it('cpu and memory together: hold, then shrink by one; both rules named', () => {
    // 12 → cpu 0.7 > 0.6 holds at 8 → memory 0.6 > 0.5 shrinks to 7
    const d = decideScaling(pool({ size: 8 }), pred(12), P(0.7, 0.6), T);
    expect(d.target).toBe(7);
    expect(d.action).toBe('down');
    expect(d.reason).toBe(
      'predicted 1/s asks for 12; cpu pressure 0.7 > medium 0.6: no growth; memory pressure 0.6 > medium 0.5: shrink by one: 8 → 7',
    );
  });

  it('io pressure plays no part', () => {
    const d = decideScaling(pool({ size: 4 }), pred(6), P(0, 0, 1), T);
    expect(d.target).toBe(6);
  });
});

describe('decideScaling: min and max win', () => {
  it('a pool below min grows even under cpu pressure', () => {
    // 6 → cpu 0.95 holds at 2 → clamp to min 4
    const d = decideScaling(pool({ size: 2, warm: 0, min: 4, max: 10 }), pred(6, 1), P(0.95, 0), T);
    expect(d.action).toBe('up');
    expect(d.target).toBe(4);
    expect(d.urgency).toBe('high'); // nothing warm and demand 1 > 0
    expect(d.reason).toBe(
      'predicted 1/s asks for 6; cpu pressure 0.95 > medium 0.6: no growth; held within min 4 / max 10: 2 → 4',
    );
  });

  it('memory pressure cannot shrink below min', () => {
    // 4 → memory 0.9 wants 3 → clamp to min 4
    const d = decideScaling(pool({ size: 4, min: 4, max: 10 }), pred(4), P(0, 0.9), T);
    expect(d.action).toBe('none');
    expect(d.target).toBe(4);
    expect(d.reason).toMatch(/memory pressure 0\.9 > medium 0\.5: shrink by one; held within min 4 \/ max 10/);
  });

  it('memory pressure on an empty pool stays at 0', () => {
    // 0 − 1 = −1 → clamp to min 0
    const d = decideScaling(pool({ size: 0, warm: 0 }), pred(0, 0), P(0, 0.9), T);
    expect(d.target).toBe(0);
    expect(d.action).toBe('none');
  });

  it('growth is capped at max', () => {
    const d = decideScaling(pool({ size: 5, max: 8 }), pred(20), calm, T);
    expect(d.target).toBe(8); // min(8, 20)
    expect(d.action).toBe('up');
    expect(d.reason).toBe('predicted 1/s asks for 20; held within min 0 / max 8: 5 → 8');
  });

  it('a pool above max shrinks to max, even under cpu pressure', () => {
    const d = decideScaling(pool({ size: 12, max: 8 }), pred(12), P(0.95, 0), T);
    expect(d.target).toBe(8);
    expect(d.action).toBe('down');
  });

  it('a recommendation below min is raised to min', () => {
    const d = decideScaling(pool({ size: 5, min: 3, max: 10 }), pred(1), calm, T);
    expect(d.target).toBe(3); // max(3, 1)
    expect(d.action).toBe('down');
    expect(d.reason).toMatch(/held within min 3 \/ max 10/);
  });
});

describe('decideScaling: urgency of growth', () => {
  it('high: nothing warm and demand > 0, whatever the size of the step', () => {
    // diff 11 − 10 = 1 would otherwise be low (1 < max(1, 10/2 = 5))
    const d = decideScaling(pool({ size: 10, warm: 0 }), pred(11, 0.5), calm, T);
    expect(d.urgency).toBe('high');
  });

  it('high: nothing warm and the pool below min, even with no demand', () => {
    // no prediction: configured target 2 → clamp to min 3; current 1 < min 3 and warm 0
    const d = decideScaling(pool({ size: 1, warm: 0, min: 3, max: 10, target: 2 }), undefined, calm, T);
    expect(d.action).toBe('up');
    expect(d.target).toBe(3);
    expect(d.urgency).toBe('high');
    expect(d.reason).toBe('configured target 2; held within min 3 / max 10: 1 → 3');
  });

  it('not high when something is warm, even below min', () => {
    // size 2 < min 4 but warm 1: diff 4 − 2 = 2 ≥ max(1, 2/2 = 1) → medium
    const d = decideScaling(pool({ size: 2, warm: 1, min: 4, max: 10, target: 4 }), undefined, calm, T);
    expect(d.urgency).toBe('medium');
    // and with demand: warm 3 → diff 11 − 10 = 1 < 5 → low
    expect(decideScaling(pool({ size: 10, warm: 3 }), pred(11, 9), calm, T).urgency).toBe('low');
  });

  it('not high with nothing warm but no demand and size ≥ min', () => {
    // size 0, min 0, demand 0: diff 1 ≥ max(1, 0/2 = 0) = 1 → medium
    const d = decideScaling(pool({ size: 0, warm: 0 }), pred(1, 0), calm, T);
    expect(d.urgency).toBe('medium');
  });

  it('medium when diff ≥ max(1, size / 2), low below', () => {
    // size 10: bar max(1, 5) = 5
    expect(decideScaling(pool({ size: 10, warm: 3 }), pred(15), calm, T).urgency).toBe('medium'); // 5 ≥ 5
    expect(decideScaling(pool({ size: 10, warm: 3 }), pred(14), calm, T).urgency).toBe('low'); // 4 < 5
    expect(decideScaling(pool({ size: 10, warm: 3 }), pred(12), calm, T).urgency).toBe('low'); // 2 < 5
    // size 1: bar max(1, 0.5) = 1 → any growth is medium
    expect(decideScaling(pool({ size: 1, warm: 1 }), pred(2), calm, T).urgency).toBe('medium'); // 1 ≥ 1
    // size 3: bar max(1, 1.5) = 1.5
    expect(decideScaling(pool({ size: 3, warm: 1 }), pred(4), calm, T).urgency).toBe('low'); // 1 < 1.5
    expect(decideScaling(pool({ size: 3, warm: 1 }), pred(5), calm, T).urgency).toBe('medium'); // 2 ≥ 1.5
  });
});

describe('decideScaling: without a prediction', () => {
  it('goes to the configured target with confidence 1', () => {
    const d = decideScaling(pool({ size: 3, warm: 0, target: 5 }), undefined, calm, T);
    expect(d).toEqual({
      profile: 'fn',
      action: 'up',
      current: 3,
      target: 5,
      confidence: 1,
      urgency: 'medium', // demand counts as 0, size 3 ≥ min 0 → not high; diff 2 ≥ max(1, 1.5)
      reason: 'configured target 5: 3 → 5',
    });
  });

  it('shrinks to the configured target', () => {
    const d = decideScaling(pool({ size: 9, target: 2 }), undefined, calm, T);
    expect(d.action).toBe('down');
    expect(d.target).toBe(2);
  });

  it('pressure rules still apply', () => {
    const d = decideScaling(pool({ size: 3, target: 5 }), undefined, P(0.7, 0), T);
    expect(d.target).toBe(3);
    expect(d.reason).toBe('configured target 5; cpu pressure 0.7 > medium 0.6: no growth: 3 → 3');
  });
});

describe('decideScaling: properties', () => {
  const arbPool = fc
    .record({
      a: fc.integer({ min: 0, max: 50 }),
      b: fc.integer({ min: 0, max: 50 }),
      size: fc.integer({ min: 0, max: 80 }),
      warmShare: fc.double({ min: 0, max: 1, noNaN: true }),
      target: fc.integer({ min: 0, max: 80 }),
    })
    .map(
      ({ a, b, size, warmShare, target }): PoolShape => ({
        profile: 'fn',
        size,
        warm: Math.floor(size * warmShare),
        min: Math.min(a, b),
        max: Math.max(a, b),
        target,
      }),
    );
  const arbPred = fc.option(
    fc.record({
      profile: fc.constant('fn'),
      demand_per_s: fc.double({ min: 0, max: 100, noNaN: true }),
      recommended_size: fc.integer({ min: 0, max: 200 }),
      confidence: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    { nil: undefined },
  );
  const arbP = fc.record({
    cpu: fc.double({ min: 0, max: 1, noNaN: true }),
    memory: fc.double({ min: 0, max: 1, noNaN: true }),
    io: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  it('target always lies within [min, max], and action matches its sign', () => {
    fc.assert(
      fc.property(arbPool, arbPred, arbP, (pl, pr, p) => {
        const d = decideScaling(pl, pr, p, T);
        expect(d.target).toBeGreaterThanOrEqual(pl.min);
        expect(d.target).toBeLessThanOrEqual(pl.max);
        expect(Number.isInteger(d.target)).toBe(true);
        expect(d.current).toBe(pl.size);
        const diff = d.target - d.current;
        expect(d.action).toBe(diff > 0 ? 'up' : diff < 0 ? 'down' : 'none');
        expect(d.urgency === 'none').toBe(d.action === 'none');
        if (d.action === 'down') expect(d.urgency).toBe('low');
      }),
    );
  });

  it('under cpu pressure a pool within [min, max] never grows', () => {
    fc.assert(
      fc.property(arbPool, arbPred, fc.double({ min: 0.6000001, max: 1, noNaN: true }), (pl, pr, cpu) => {
        fc.pre(pl.size >= pl.min && pl.size <= pl.max);
        const d = decideScaling(pl, pr, { cpu, memory: 0, io: 0 }, T);
        expect(d.target).toBeLessThanOrEqual(pl.size);
      }),
    );
  });
});
