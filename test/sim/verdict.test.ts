/**
 * The verdict (sim/verdict.ts) on hand-made metrics: the rule of docs/scorecard.md "The verdict" (the engine wins iff its
 * SLO miss ratio and p99 are each ≤ the best baseline's), the best baseline chosen per metric,
 * higher-is-better metrics, the 1 % tie, and what happens without an engine, without a baseline
 * or without a figure. Expected outcomes are worked out beside each case.
 */
import { describe, expect, it } from 'vitest';
import {
  outcomeOf,
  TIE_TOLERANCE,
  VERDICT_METRICS,
  verdictFor,
  verdictInWords,
  verdictTable,
  type MetricVerdict,
} from '../../sim/verdict.ts';

/** A metrics.json with only the figures the verdict reads. */
const m = (
  o: Partial<{
    slo: number;
    p99: number;
    p50: number;
    goodput: number;
    cold: number;
    local: number;
    warm: number;
  }> = {},
) => ({
  slo_miss_ratio: o.slo ?? 0.01,
  latency_ms: { p50: o.p50 ?? 10, p95: 50, p99: o.p99 ?? 100, max: 500 },
  goodput_per_s: o.goodput ?? 200,
  cold_start_ratio: o.cold ?? 0.05,
  local_access_ratio: o.local ?? 0.5,
  warm_idle_gb_s: o.warm ?? 1000,
});

const metric = (v: { metrics: MetricVerdict[] }, key: string) =>
  v.metrics.find((x) => x.metric === key) as MetricVerdict;

describe('outcomeOf', () => {
  it('lower or higher is better; within 1 % of the larger figure is a tie, on both sides', () => {
    expect(TIE_TOLERANCE).toBe(0.01);
    expect(outcomeOf(90, 100, 'lower')).toBe('win');
    expect(outcomeOf(110, 100, 'lower')).toBe('loss');
    expect(outcomeOf(110, 100, 'higher')).toBe('win');
    expect(outcomeOf(90, 100, 'higher')).toBe('loss');
    expect(outcomeOf(101, 100, 'lower')).toBe('tie'); // |1| ≤ 0.01 × 101
    expect(outcomeOf(99, 100, 'lower')).toBe('tie'); // |1| ≤ 0.01 × 100
    expect(outcomeOf(102, 100, 'lower')).toBe('loss'); // |2| > 1.02
    expect(outcomeOf(0, 0, 'lower')).toBe('tie');
    expect(outcomeOf(0.0001, 0, 'lower')).toBe('loss'); // strict near zero: one miss in 10,000 against none
  });
});

describe('verdictFor', () => {
  it('a win: lower SLO miss ratio and p99 than every baseline', () => {
    const v = verdictFor('s', {
      engine: m({ slo: 0.005, p99: 80 }),
      random: m({ slo: 0.02, p99: 150 }),
      numad: m({ slo: 0.01, p99: 120 }),
    });
    expect(v.engine_wins).toBe(true);
    // Best baseline on both: numad (0.01 < 0.02, 120 < 150); ratios 0.5 and 80/120 = 0.6667.
    expect(metric(v, 'slo_miss_ratio')).toEqual({
      metric: 'slo_miss_ratio',
      better: 'lower',
      decisive: true,
      best: { policy: 'numad', value: 0.01 },
      engine: 0.005,
      ratio: 0.5,
      outcome: 'win',
    });
    expect(metric(v, 'latency_ms.p99')).toMatchObject({
      best: { policy: 'numad', value: 120 },
      engine: 80,
      ratio: 0.6667,
      outcome: 'win',
    });
    expect(v.summary).toBe(
      "the engine wins: SLO miss ratio 0.005 against numad's 0.01 (win); p99 latency 80.00 ms against numad's 120.0 ms (win)",
    );
    expect(v.metrics.map((x) => x.metric)).toEqual(VERDICT_METRICS.map((x) => x.key));
  });

  it('a loss on one deciding metric loses the scenario, whatever the others', () => {
    // SLO: engine 0.001 beats 0.01; p99: 130 against 120 is +8.3 %, a loss; every other metric won.
    const v = verdictFor('s', {
      engine: m({ slo: 0.001, p99: 130, p50: 1, goodput: 900, cold: 0, local: 1, warm: 1 }),
      numad: m({ slo: 0.01, p99: 120 }),
    });
    expect(v.engine_wins).toBe(false);
    expect(metric(v, 'latency_ms.p99').outcome).toBe('loss');
    expect(v.metrics.filter((x) => x.outcome === 'win').length).toBe(6);
    expect(v.summary).toMatch(/^the engine loses: .*p99 latency 130\.0 ms against numad's 120\.0 ms \(loss\)$/);
  });

  it('ties on the deciding metrics count as "equal": the engine wins', () => {
    // 0.01005 vs 0.01: +0.5 %; 100.9 vs 100: +0.9 % — both within 1 %.
    const v = verdictFor('s', { engine: m({ slo: 0.01005, p99: 100.9 }), random: m({ slo: 0.01, p99: 100 }) });
    expect(metric(v, 'slo_miss_ratio').outcome).toBe('tie');
    expect(metric(v, 'latency_ms.p99')).toMatchObject({ outcome: 'tie', ratio: 1.009 });
    expect(v.engine_wins).toBe(true);
  });

  it('the best baseline differs per metric, and the engine must match each', () => {
    // random has the fewest SLO misses, numad the lowest p99: the engine beats numad on SLO misses
    // and random on p99, but not random on SLO misses → it loses.
    const v = verdictFor('s', {
      engine: m({ slo: 0.02, p99: 110 }),
      random: m({ slo: 0.01, p99: 200 }),
      numad: m({ slo: 0.03, p99: 100 }),
    });
    expect(metric(v, 'slo_miss_ratio').best).toEqual({ policy: 'random', value: 0.01 });
    expect(metric(v, 'latency_ms.p99').best).toEqual({ policy: 'numad', value: 100 });
    expect(metric(v, 'slo_miss_ratio').outcome).toBe('loss');
    expect(metric(v, 'latency_ms.p99').outcome).toBe('loss'); // 110 against numad's 100
    expect(v.engine_wins).toBe(false);
  });

  it('higher is better for goodput and local access: the best baseline is the highest', () => {
    const v = verdictFor('s', {
      engine: m({ goodput: 250, local: 0.9 }),
      random: m({ goodput: 240, local: 0.25 }),
      numad: m({ goodput: 260, local: 0.5 }),
    });
    expect(metric(v, 'goodput_per_s')).toMatchObject({
      better: 'higher',
      best: { policy: 'numad', value: 260 },
      ratio: 0.9615,
      outcome: 'loss',
    });
    expect(metric(v, 'local_access_ratio')).toMatchObject({
      best: { policy: 'numad', value: 0.5 },
      ratio: 1.8,
      outcome: 'win',
    });
    expect(v.engine_wins).toBe(true); // neither decides
  });

  it('baselines with the very same figure: the first in the order given is named', () => {
    const v = verdictFor('s', { engine: m(), numad: m({ p99: 90 }), random: m({ p99: 90 }) });
    expect(metric(v, 'latency_ms.p99').best?.policy).toBe('numad');
  });

  it('a best figure of 0: the ratio is 1 if the engine has 0 too, else undefined (null), and it loses', () => {
    const both = verdictFor('s', { engine: m({ slo: 0 }), random: m({ slo: 0 }) });
    expect(metric(both, 'slo_miss_ratio')).toMatchObject({ ratio: 1, outcome: 'tie' });
    const worse = verdictFor('s', { engine: m({ slo: 0.002 }), random: m({ slo: 0 }) });
    expect(metric(worse, 'slo_miss_ratio')).toMatchObject({ ratio: null, outcome: 'loss' });
    expect(worse.engine_wins).toBe(false);
  });

  it('no verdict without an engine run, without a baseline, or without a deciding figure', () => {
    const noEngine = verdictFor('s', { random: m(), numad: m() });
    expect(noEngine).toMatchObject({
      engine_wins: null,
      summary: 'no verdict: the engine did not run (policies: random, numad)',
    });
    expect(metric(noEngine, 'slo_miss_ratio')).toMatchObject({
      engine: null,
      outcome: null,
      best: { policy: 'random' },
    });
    expect(verdictFor('s', { engine: m() })).toMatchObject({
      engine_wins: null,
      summary: 'no verdict: no baseline ran beside the engine',
    });
    // An older metrics.json without slo_miss_ratio.
    const { slo_miss_ratio: _, ...old } = m();
    const v = verdictFor('s', { engine: old, random: old });
    expect(v).toMatchObject({ engine_wins: null, summary: 'no verdict: slo_miss_ratio missing from the metrics' });
    expect(metric(v, 'latency_ms.p99').outcome).toBe('tie'); // the other metrics are still judged
  });
});

describe('verdictTable', () => {
  it('names the scenario and verdict, one line per metric, deciding ones starred, at most 100 columns', () => {
    const v = [
      verdictFor('default', {
        engine: m({ slo: 0.005, p99: 1234.5 }),
        'a-baseline-with-a-very-long-name': m({ slo: 0.01, p99: 1500 }),
      }),
      verdictFor('burst-2n', { random: m() }),
    ];
    const t = verdictTable(v);
    const lines = t.split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(lines[0]).toBe('default: engine WINS');
    expect(lines[1]).toMatch(/^ {2}metric +best baseline +engine +engine÷best +outcome$/);
    expect(lines[2]).toMatch(/^ {2}SLO miss ratio \* +a-baseline-with-a… +0\.01 +0\.005 +0\.500 +win$/);
    expect(lines[3]).toMatch(/^ {2}p99 latency, ms \* +a-baseline-with-a… +1,500 +1,235 +0\.823 +win$/);
    expect(lines.slice(2, 9).length).toBe(VERDICT_METRICS.length);
    expect(t).toContain('burst-2n: NO VERDICT');
    expect(t).toMatch(/\* decides the verdict: the engine wins a scenario iff/);
  });
});

describe('verdictInWords', () => {
  /** The sentence unfolded: it is folded at 100 columns with a two-space indent. */
  const words = (v: Parameters<typeof verdictInWords>[0], m: Parameters<typeof verdictInWords>[1]) =>
    verdictInWords(v, m).replace(/\n {2}/g, ' ');
  const run = (slo: number, p99: number, arrived = 1000) => ({
    slo_miss_ratio: slo,
    latency_ms: { p99 },
    requests: { arrived },
  });
  it('says who won and by how many requests and milliseconds (worked by hand)', () => {
    // 12 of 1,000 missed under the engine, 10 under least-loaded: a loss by 2 requests, +20 %.
    const lose = { engine: run(0.012, 100), 'least-loaded': run(0.01, 110) };
    expect(words(verdictFor('s', lose), lose)).toBe(
      "In short: the engine loses s by 2 requests: 12 of 1,000 requests missed their SLO against 10 under least-loaded (+20 %); p99 latency 100.0 ms against least-loaded's 110.0 ms (win).",
    );
    // 5 against 10: a win by 5, −50 %; p99 tied within 1 %.
    const win = { engine: run(0.005, 109.5), numad: run(0.01, 110) };
    expect(words(verdictFor('s', win), win)).toBe(
      "In short: the engine wins s by 5 requests: 5 of 1,000 requests missed their SLO against 10 under numad (−50 %); p99 latency 109.5 ms against numad's 110.0 ms (tie).",
    );
  });
  it('names a tie on misses as one, and folds at 100 columns', () => {
    const tie = { engine: run(0.1, 100, 123_456), random: run(0.1, 100, 123_456) };
    expect(words(verdictFor('scenario-with-a-long-name', tie), tie)).toContain(
      '12,346 of 123,456 requests missed their SLO against 12,346 under random, a tie;',
    );
    const folded = verdictInWords(verdictFor('scenario-with-a-long-name', tie), tie).split('\n');
    expect(folded.length).toBeGreaterThan(1);
    expect(folded.every((l) => l.length <= 100)).toBe(true);
  });
  it('without a verdict says why', () => {
    expect(verdictInWords(verdictFor('s', { engine: run(0, 1) }), {})).toBe(
      'In short: no verdict: no baseline ran beside the engine.',
    );
  });
});
