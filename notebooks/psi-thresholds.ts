/**
 * How sensitive the outcome is to the CPU PSI thresholds when the recorded incident is replayed:
 * psi-replay-1n shows the engine the real PSI recording of a 2-CPU host
 * (traces/psi/stress-2cpu-host.csv, `replace` mode) while a fixed Poisson load arrives. The engine
 * runs with its cpu thresholds (low/medium/high/critical) scaled by each factor, on identical
 * arrivals; a PSI-blind baseline (least-loaded) on the same arrivals is the reference. Scaled
 * thresholds are capped so they stay strictly rising and ≤ 1: the level i of 4 (0-based) is at
 * most 1 − 0.01 × (3 − i), so ×1.25 of 0.3/0.6/0.8/0.9 gives 0.375/0.75/0.99/1.
 *
 * Both modes replay the whole 320-s recording (it runs in under a second; a shorter run would cut
 * the incident's later phases); --quick runs the four factors the question names, the full study
 * seven.
 *
 *   fgo study notebooks/psi-thresholds.ts [--quick]
 */
import { join } from 'node:path';
import { prepare } from '../cli/prepare.ts';
import { writeReport } from '../reports/report.ts';
import { engineConfigFor } from '../sim/run.ts';
import type { Scenario } from '../sim/scenario.ts';
import { runAllInto, textTable, type StudyContext, type StudyResult } from './lib.ts';
import { roundTo } from '../engine/round.ts';

const SCENARIO = 'psi-replay-1n';
const FLAGS = { scenario: SCENARIO };
const LEVELS = ['low', 'medium', 'high', 'critical'] as const;
type Levels = Record<(typeof LEVELS)[number], number>;

export const FACTORS = { quick: [0.5, 0.75, 1, 1.25], full: [0.5, 0.625, 0.75, 0.875, 1, 1.125, 1.25] } as const;

/** `base` × `factor`, each level capped at 1 − 0.01 × (levels above it), so rising and ≤ 1. */
export function scaleThresholds(base: Levels, factor: number): Levels {
  const out = {} as Levels;
  LEVELS.forEach((k, i) => {
    out[k] = roundTo(Math.min(base[k] * factor, 1 - 0.01 * (LEVELS.length - 1 - i)), 3);
  });
  return out;
}

interface Row {
  policy: 'engine';
  factor: number;
  cpu_thresholds: Levels;
  latency_p99_ms: number;
  latency_p50_ms: number;
  deferred: number;
  shed: number;
  completed: number;
  cold_start_ratio: number;
  run_dir: string;
}

/** One engine run per factor, its cpu thresholds scaled and the rest of the scenario's engine kept. */
function thresholdVariants(ctx: StudyContext, factors: readonly number[], base: ReturnType<typeof prepare>) {
  const engine = base.scenario.engine as { pressure?: { thresholds?: Record<string, unknown> } };
  const cpu0 = engineConfigFor(base.scenario).pressure.thresholds.cpu;
  return factors.map((f) => {
    const cpu = scaleThresholds(cpu0, f);
    ctx.log(`engine, cpu thresholds × ${f}: ${LEVELS.map((k) => cpu[k]).join('/')}`);
    return {
      f,
      cpu,
      run: {
        name: `engine-cpu-x${f}`,
        flags: FLAGS,
        policy: 'engine' as const,
        engine: {
          ...engine,
          pressure: { ...engine.pressure, thresholds: { ...engine.pressure?.thresholds, cpu } },
        } as Scenario['engine'],
      },
    };
  });
}

type Reference = Omit<Row, 'policy' | 'factor' | 'cpu_thresholds' | 'cold_start_ratio'> & { policy: 'least-loaded' };

/** The runs side by side in the log: each factor's engine, then the PSI-blind reference. */
function logTable(ctx: StudyContext, rows: readonly Row[], reference: Reference): void {
  ctx.log(
    textTable(
      ['run', 'cpu thresholds', 'p99 ms', 'p50 ms', 'deferred', 'shed', 'done'],
      [
        ...rows.map((r) => [
          `engine ×${r.factor}`,
          LEVELS.map((k) => r.cpu_thresholds[k]).join('/'),
          r.latency_p99_ms,
          r.latency_p50_ms,
          r.deferred,
          r.shed,
          r.completed,
        ]),
        [
          'least-loaded',
          '(PSI-blind)',
          reference.latency_p99_ms,
          reference.latency_p50_ms,
          reference.deferred,
          reference.shed,
          reference.completed,
        ],
      ],
    ),
  );
}

/** The spread of each outcome over the factors, and its value at ×1. */
function sensitivityOf(rows: readonly Row[]) {
  const at1 = rows.find((r) => r.factor === 1) as Row;
  const spread = (k: 'latency_p99_ms' | 'deferred' | 'shed') => {
    const xs = rows.map((r) => r[k]);
    return { min: Math.min(...xs), max: Math.max(...xs), at_1x: at1[k] };
  };
  return { latency_p99_ms: spread('latency_p99_ms'), deferred: spread('deferred'), shed: spread('shed') };
}

export default async function study(ctx: StudyContext): Promise<StudyResult> {
  const factors = ctx.quick ? FACTORS.quick : FACTORS.full;
  const base = prepare(FLAGS);
  const cpu0 = engineConfigFor(base.scenario).pressure.thresholds.cpu;
  const variants = thresholdVariants(ctx, factors, base);
  ctx.log('least-loaded (PSI-blind reference)');
  const results = await runAllInto(ctx, [
    ...variants.map((v) => v.run),
    { name: 'least-loaded', flags: FLAGS, policy: 'least-loaded' },
  ]);
  const dirs = results.map((r) => r.dir);
  const rows: Row[] = variants.map(({ f, cpu }, i) => {
    const { metrics: m, dir } = results[i] as (typeof results)[number];
    return {
      policy: 'engine',
      factor: f,
      cpu_thresholds: cpu,
      latency_p99_ms: m.latency_ms.p99,
      latency_p50_ms: m.latency_ms.p50,
      deferred: m.requests.deferred,
      shed: m.requests.shed,
      completed: m.requests.completed,
      cold_start_ratio: m.cold_start_ratio,
      run_dir: dir,
    };
  });
  const ref = results[variants.length] as (typeof results)[number];
  const reference: Reference = {
    policy: 'least-loaded',
    latency_p99_ms: ref.metrics.latency_ms.p99,
    latency_p50_ms: ref.metrics.latency_ms.p50,
    deferred: ref.metrics.requests.deferred,
    shed: ref.metrics.requests.shed,
    completed: ref.metrics.requests.completed,
    run_dir: ref.dir,
  };
  logTable(ctx, rows, reference);
  const report = await writeReport(dirs, join(ctx.out, 'report.html'), {
    title: `fgo study psi-thresholds: ${SCENARIO}, cpu thresholds × ${factors.join(', ')}`,
  });
  return {
    report: report.path,
    summary: {
      study: 'psi-thresholds',
      scenario: SCENARIO,
      seed: base.scenario.seed,
      duration: base.scenario.duration,
      psi: base.scenario.psi,
      base_cpu_thresholds: cpu0,
      rows,
      reference,
      sensitivity: sensitivityOf(rows),
    },
  };
}
