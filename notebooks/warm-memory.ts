/**
 * What warm memory buys in cold starts. The engine's predictive pools at several covers of
 * the forecast concurrency, and a fixed keep-alive baseline (least-loaded) at several keep-alives,
 * on diurnal-8n with identical arrivals: one trade-off curve of cold_start_ratio against idle warm
 * memory (GB·s). The sweep is sim/tradeoff.ts's `runTradeoff` (the curve and headline of
 * `fgo tradeoff`); this notebook only gives every run a directory, so the runs can go in a report.
 *
 *   fgo study notebooks/warm-memory.ts [--quick]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepare } from '../cli/prepare.ts';
import { writeReport } from '../reports/report.ts';
import type { RunInputs } from '../sim/run.ts';
import { formatTradeoff, runTradeoff, type TradeoffPoint } from '../sim/tradeoff.ts';
import { runDir, slug, type StudyContext, type StudyResult } from './lib.ts';
import { roundTo } from '../engine/round.ts';

const SCENARIO = 'diurnal-8n';
const BASELINE = 'least-loaded' as const;

/** Quick: 10 simulated minutes, 3 covers and 2 keep-alives (cover 0.999 and 10 minutes, the defaults, are always added). */
export const PLAN = {
  quick: { duration: '10m', covers: [0.9, 0.9999], keepAlives_s: [60] },
  full: { duration: '2h', covers: [0.9, 0.99, 0.999, 0.9999, 0.99999], keepAlives_s: [60, 120, 300, 1200] },
} as const;

/** Points no other point beats on both axes: fewer cold starts at no more idle memory. */
function frontier(points: TradeoffPoint[]): TradeoffPoint[] {
  const dominated = (p: TradeoffPoint) =>
    points.some(
      (q) =>
        q !== p &&
        q.cold_start_ratio <= p.cold_start_ratio &&
        q.warm_idle_gb_s <= p.warm_idle_gb_s &&
        (q.cold_start_ratio < p.cold_start_ratio || q.warm_idle_gb_s < p.warm_idle_gb_s),
    );
  return points.filter((p) => !dominated(p)).sort((a, b) => a.warm_idle_gb_s - b.warm_idle_gb_s);
}

export default async function study(ctx: StudyContext): Promise<StudyResult> {
  const plan = ctx.quick ? PLAN.quick : PLAN.full;
  const inputs = prepare({ scenario: SCENARIO, duration: plan.duration });
  // runTradeoff takes its inputs without `out` and spreads them into every run; a getter that
  // names the run announced last by onRun gives each run its own directory, with no copy of the sweep.
  const dirs: string[] = [];
  let current: string | undefined;
  const withOut = Object.defineProperty({ ...inputs }, 'out', { get: () => current, enumerable: true }) as Omit<
    RunInputs,
    'policy'
  >;
  const r = await runTradeoff(withOut, {
    covers: plan.covers,
    keepAlives_s: plan.keepAlives_s,
    baseline: BASELINE,
    onRun: (label, i, total) => {
      current = runDir(ctx.out, slug(label));
      dirs.push(current);
      ctx.log(`[${i + 1}/${total}] ${label}`);
    },
  });
  // Check each directory holds the run its point came from (should runTradeoff ever stop passing `out` through).
  r.points.forEach((p, i) => {
    const m = JSON.parse(readFileSync(join(dirs[i] as string, 'metrics.json'), 'utf8')) as {
      cold_start_ratio: number;
      warm_idle_gb_s: number;
    };
    if (m.cold_start_ratio !== p.cold_start_ratio || m.warm_idle_gb_s !== p.warm_idle_gb_s)
      throw new Error(`warm-memory: run directory ${dirs[i]} does not hold the run of point '${p.label}'`);
  });
  ctx.log(formatTradeoff(r));
  const front = frontier(r.points);
  ctx.log(
    `frontier (fewest cold starts for the idle memory): ${front.map((p) => `${p.policy} ${p.label}`).join(' → ')}`,
  );
  const report = await writeReport(dirs, join(ctx.out, 'report.html'), {
    title: `fgo study warm-memory: ${SCENARIO} (${plan.duration}), engine covers vs ${BASELINE} keep-alives`,
  });
  const h = r.headline;
  return {
    report: report.path,
    summary: {
      study: 'warm-memory',
      scenario: r.scenario,
      seed: r.seed,
      duration: r.duration,
      baseline: r.baseline,
      points: r.points.map((p, i) => ({
        policy: p.policy,
        knob: p.knob,
        value: p.value,
        label: p.label,
        cold_start_ratio: p.cold_start_ratio,
        warm_idle_gb_s: p.warm_idle_gb_s,
        latency_p99_ms: p.latency_p99_ms,
        latency_p50_ms: p.latency_p50_ms,
        completed: p.completed,
        run_dir: dirs[i],
      })),
      frontier: front.map((p) => `${p.policy} ${p.label}`),
      headline: {
        engine: h.engine.label,
        baseline: h.baseline.label,
        cold_start_reduction_pct: h.cold_start_reduction_pct,
        idle_memory_ratio: roundTo(h.idle_memory_ratio, 3),
        target: h.target,
        met: h.met,
      },
      best_within_memory: r.best_within_memory?.label ?? null,
    },
  };
}
