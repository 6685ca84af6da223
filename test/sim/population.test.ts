/**
 * The function population (sim/population.ts) against the published figures it is drawn from
 * (Shahrad et al., USENIX ATC 2020): rates, triggers, execution times and memory, on 4,000 drawn
 * functions, each within about four standard errors of its figure.
 */
import { describe, expect, it } from 'vitest';
import { expandPopulation, populationSchema } from '../../sim/population.ts';
import { scenarioSchema } from '../../sim/scenario.ts';

const N = 4000;
const { profiles, triggers } = expandPopulation(
  populationSchema.parse({ count: N, min_rate_per_s: 1e-12, max_rate_per_s: 1e6, max_exec_ms: 1e9 }),
  7,
);
/** The fields of an expanded profile that this file reads. */
type Drawn = {
  arrival: {
    kind: string;
    rate_per_s: number;
    period_s: number;
    on_rate_per_s: number;
    mean_on_s: number;
    mean_off_s: number;
  };
  cpu_ms: { mean: number };
  memory_mb: number;
};
const all = Object.values(profiles) as Drawn[];
/** The mean rate a profile's arrival process gives. */
const rateOf = (p: Drawn) => {
  const a = p.arrival;
  if (a.kind === 'poisson') return a.rate_per_s;
  if (a.kind === 'periodic') return 1 / a.period_s;
  return (a.on_rate_per_s * a.mean_on_s) / (a.mean_on_s + a.mean_off_s);
};
const share = (f: (p: Drawn) => boolean) => all.filter(f).length / N;
/** Standard error of a share p over N draws, ×4. */
const tol = (p: number) => 4 * Math.sqrt((p * (1 - p)) / N);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1] as number;

describe('a population drawn from the Azure Functions 2019 characterisation', () => {
  it('45 % of functions invoked at most once an hour, 81 % at most once a minute', () => {
    expect(Math.abs(share((p) => rateOf(p) <= 1 / 3600) - 0.45)).toBeLessThan(tol(0.45));
    expect(Math.abs(share((p) => rateOf(p) <= 1 / 60) - 0.81)).toBeLessThan(tol(0.81));
    // Eight orders of magnitude between the 0.1 % and 99.9 % functions (±3.09 sd of 1.772 decades = 11).
    const logs = all.map((p) => Math.log10(rateOf(p))).sort((a, b) => a - b);
    expect(logs[Math.floor(0.999 * N)]! - logs[Math.floor(0.001 * N)]!).toBeGreaterThan(8);
  });

  it('triggers in the published shares: HTTP 55 %, queue 15 %, event 2 %, timer 16 %, orchestration 7 %, other 5 %', () => {
    const count = (t: string) => Object.values(triggers).filter((x) => x === t).length / N;
    for (const [t, p] of [
      ['http', 0.55],
      ['queue', 0.15],
      ['event', 0.02],
      ['timer', 0.16],
      ['orchestration', 0.07],
      ['other', 0.05],
    ] as const)
      expect(Math.abs(count(t) - p), t).toBeLessThan(tol(p));
    // Timers fire on round periods; queue and event functions come in bursts.
    for (const [name, t] of Object.entries(triggers)) {
      const a = (profiles[name] as Drawn).arrival;
      if (t === 'timer') expect([60, 300, 600, 900, 1800, 3600, 86_400]).toContain(a.period_s);
      expect(a.kind).toBe(t === 'timer' ? 'periodic' : t === 'queue' || t === 'event' ? 'bursty' : 'poisson');
    }
  });

  it('median execution time 0.68 s (lognormal μ −0.38, σ 2.36 in ln s); median memory 170 MB, 90 % under 400 MB', () => {
    // Median of N lognormal draws: sd ≈ 1.2533 σ/√N in log space = 0.047 → ±4 sd ≈ ×1.2.
    const exec = median(all.map((p) => p.cpu_ms.mean));
    expect(exec / 680).toBeGreaterThan(1 / 1.2);
    expect(exec / 680).toBeLessThan(1.2);
    const mem = all.map((p) => p.memory_mb);
    expect(Math.abs(median(mem) - 170) / 170).toBeLessThan(0.05);
    expect(Math.abs(share((p) => p.memory_mb <= 400) - 0.9)).toBeLessThan(tol(0.9));
  });

  it('the same spec and seed give the same functions; a scenario expands it into its catalogue, named profiles winning', () => {
    const spec = populationSchema.parse({ count: 5 });
    expect(expandPopulation(spec, 1)).toEqual(expandPopulation(spec, 1));
    expect(expandPopulation(spec, 2)).not.toEqual(expandPopulation(spec, 1));
    const s = scenarioSchema.parse({ name: 'p', functions: { count: 3 }, profiles: { 'fn-001': { slo_ms: 42 } } });
    expect(Object.keys(s.profiles).sort()).toEqual(['fn-000', 'fn-001', 'fn-002']);
    expect(s.profiles['fn-001']!.slo_ms).toBe(42);
    // Clipped to the host's slice: rates within the bounds given.
    for (const p of Object.values(
      expandPopulation(populationSchema.parse({ count: 500, max_rate_per_s: 0.5 }), 3).profiles,
    ) as Drawn[]) {
      if (p.arrival.kind === 'poisson') expect(p.arrival.rate_per_s).toBeLessThanOrEqual(0.5);
      expect(p.cpu_ms.mean).toBeLessThanOrEqual(5000);
    }
  });
});
