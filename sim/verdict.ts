/**
 * The verdict: the engine against the best baseline, metric by metric, scenario by scenario.
 * docs/scorecard.md "The verdict" states the rule: the engine wins a scenario iff its `slo_miss_ratio` and
 * its p99 are lower than or equal to the best baseline's on identical arrivals. "Best baseline"
 * is per metric: the baseline with the best figure on that metric, so the engine faces a
 * different opponent on each. Pure — metrics in, verdict out — and shared by `fgo scorecard`,
 * `fgo compare` and the report, so all three say the same thing.
 *
 * Figures within TIE_TOLERANCE of each other (relative to the larger) are a tie: the twin's
 * figures are exact for a seed, but a 0.3 % difference in p99 is a bucket of the latency
 * histogram (0.1 % resolution) or a handful of requests, not a policy being better. A tie on a
 * deciding metric counts as "equal", so it does not lose the scenario. Near zero the tolerance is
 * strict: an SLO miss ratio of 0.0001 against 0 is a loss.
 */
import { roundTo } from '../engine/round.ts';

/** Relative tolerance of a tie: |engine − best| ≤ 1 % of the larger of the two. */
export const TIE_TOLERANCE = 0.01;

export interface VerdictMetric {
  /** Dotted path into metrics.json. */
  key: string;
  label: string;
  /** Unit of the figure, '' for a ratio. */
  unit: string;
  better: 'lower' | 'higher';
  /** One of the two metrics the rule decides on. */
  decisive: boolean;
}

/** In the order they are printed: the two deciding metrics first. */
export const VERDICT_METRICS: readonly VerdictMetric[] = [
  { key: 'slo_miss_ratio', label: 'SLO miss ratio', unit: '', better: 'lower', decisive: true },
  { key: 'latency_ms.p99', label: 'p99 latency', unit: 'ms', better: 'lower', decisive: true },
  { key: 'goodput_per_s', label: 'goodput', unit: 'req/s', better: 'higher', decisive: false },
  { key: 'latency_ms.p50', label: 'p50 latency', unit: 'ms', better: 'lower', decisive: false },
  { key: 'cold_start_ratio', label: 'cold-start ratio', unit: '', better: 'lower', decisive: false },
  { key: 'local_access_ratio', label: 'local-access ratio', unit: '', better: 'higher', decisive: false },
  { key: 'warm_idle_gb_s', label: 'idle warm memory', unit: 'GB·s', better: 'lower', decisive: false },
];

export const VERDICT_RULE = `the engine wins a scenario iff its SLO miss ratio and its p99 latency are each lower than or equal to (within ${TIE_TOLERANCE * 100} %) the best baseline's on that metric, on identical arrivals`;

export type Outcome = 'win' | 'loss' | 'tie';

export interface MetricVerdict {
  metric: string;
  better: 'lower' | 'higher';
  decisive: boolean;
  /** The baseline with the best figure (ties: the first in the order given); null if none has the metric. */
  best: { policy: string; value: number } | null;
  engine: number | null;
  /** engine ÷ best (4 decimals); null when either is missing, or best is 0 and the engine is not. */
  ratio: number | null;
  outcome: Outcome | null;
}

export interface ScenarioVerdict {
  scenario: string;
  /** The rule's outcome; null when it cannot be decided (no engine run, no baseline, a deciding figure missing). */
  engine_wins: boolean | null;
  /** The verdict in words. */
  summary: string;
  metrics: MetricVerdict[];
}

/** A metrics.json document (or its MetricsSummary), possibly older and missing some figures. */
export type MetricsLike = object;

/** The figure at a dotted path, or null when it is missing or not a finite number. */
export function figure(m: MetricsLike | undefined, path: string): number | null {
  let v: unknown = m;
  for (const k of path.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Win, loss or tie of `engine` against `best` when `better` is the good direction. */
export function outcomeOf(engine: number, best: number, better: 'lower' | 'higher'): Outcome {
  if (Math.abs(engine - best) <= TIE_TOLERANCE * Math.max(Math.abs(engine), Math.abs(best))) return 'tie';
  return (better === 'lower' ? engine < best : engine > best) ? 'win' : 'loss';
}

/** A figure as a person reads it: about four significant digits, no exponent above 1e-6. */
export function fmtFigure(x: number): string {
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return String(Number(x.toPrecision(3)));
}

export const fmtRatio = (r: number | null) => (r === null ? '–' : r.toFixed(3));

/**
 * The verdict on one scenario from each policy's metrics (`engine` and any baselines), in the
 * order given — which only breaks ties between baselines with the very same figure.
 */
export function verdictFor(scenario: string, byPolicy: Readonly<Record<string, MetricsLike>>): ScenarioVerdict {
  const engine = byPolicy.engine;
  const baselines = Object.keys(byPolicy).filter((p) => p !== 'engine');
  const metrics = VERDICT_METRICS.map((vm): MetricVerdict => {
    let best: MetricVerdict['best'] = null;
    for (const p of baselines) {
      const v = figure(byPolicy[p], vm.key);
      if (v !== null && (best === null || (vm.better === 'lower' ? v < best.value : v > best.value)))
        best = { policy: p, value: v };
    }
    const e = figure(engine, vm.key);
    const ratio =
      e === null || best === null ? null : best.value === 0 ? (e === 0 ? 1 : null) : roundTo(e / best.value, 4);
    return {
      metric: vm.key,
      better: vm.better,
      decisive: vm.decisive,
      best,
      engine: e,
      ratio,
      outcome: e === null || best === null ? null : outcomeOf(e, best.value, vm.better),
    };
  });
  const undecided = (why: string): ScenarioVerdict => ({
    scenario,
    engine_wins: null,
    summary: `no verdict: ${why}`,
    metrics,
  });
  if (!engine) return undecided(`the engine did not run (policies: ${Object.keys(byPolicy).join(', ') || 'none'})`);
  if (baselines.length === 0) return undecided('no baseline ran beside the engine');
  const deciding = metrics.filter((m) => m.decisive);
  const missing = deciding.filter((m) => m.outcome === null).map((m) => m.metric);
  if (missing.length) return undecided(`${missing.join(' and ')} missing from the metrics`);
  const wins = deciding.every((m) => m.outcome !== 'loss');
  const said = deciding.map((m) => {
    const { label, unit } = VERDICT_METRICS.find((v) => v.key === m.metric) as VerdictMetric;
    const u = unit ? ` ${unit}` : '';
    return `${label} ${fmtFigure(m.engine as number)}${u} against ${m.best?.policy}'s ${fmtFigure(m.best?.value as number)}${u} (${m.outcome})`;
  });
  return { scenario, engine_wins: wins, summary: `the engine ${wins ? 'wins' : 'loses'}: ${said.join('; ')}`, metrics };
}

/** "p99 latency, ms": a metric's name with its unit. */
export const labelOf = (m: VerdictMetric) => (m.unit ? `${m.label}, ${m.unit}` : m.label);

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/**
 * The verdicts as text at most 100 columns wide: per scenario a line with the verdict, then one
 * line per metric (deciding ones marked *): the best baseline and its figure, the engine's, their
 * ratio and the outcome.
 */
export function verdictTable(verdicts: readonly ScenarioVerdict[]): string {
  const lines: string[] = [];
  const pol = Math.min(18, Math.max(13, ...verdicts.flatMap((v) => v.metrics.map((m) => m.best?.policy.length ?? 0))));
  const met = Math.max(...VERDICT_METRICS.map((m) => labelOf(m).length + (m.decisive ? 2 : 0)));
  const row = (c: string[]) =>
    `  ${(c[0] as string).padEnd(met)}  ${clip(c[1] as string, pol).padEnd(pol)} ${(c[2] as string).padStart(10)}  ${(c[3] as string).padStart(10)}  ${(c[4] as string).padStart(11)}  ${c[5]}`.trimEnd();
  for (const v of verdicts) {
    const head = v.engine_wins === null ? 'NO VERDICT' : v.engine_wins ? 'engine WINS' : 'engine LOSES';
    lines.push(`${v.scenario}: ${head}`, row(['metric', 'best baseline', '', 'engine', 'engine÷best', 'outcome']));
    for (const m of v.metrics) {
      const vm = VERDICT_METRICS.find((x) => x.key === m.metric) as VerdictMetric;
      lines.push(
        row([
          `${labelOf(vm)}${vm.decisive ? ' *' : ''}`,
          m.best?.policy ?? '–',
          m.best ? fmtFigure(m.best.value) : '–',
          m.engine === null ? '–' : fmtFigure(m.engine),
          fmtRatio(m.ratio),
          m.outcome ?? '–',
        ]),
      );
    }
    lines.push('');
  }
  lines.push(
    `* decides the verdict: ${VERDICT_RULE}; best baseline per metric; tie: within ${TIE_TOLERANCE * 100} % of each other`,
  );
  return wrap(lines).join('\n');
}

/** Long prose lines folded at 100 columns (table lines are narrower). */
function wrap(lines: string[]): string[] {
  return lines.flatMap((l) => {
    if (l.length <= 100) return [l];
    const out: string[] = [];
    let cur = '';
    for (const w of l.split(' ')) {
      if (cur && cur.length + 1 + w.length > 100) {
        out.push(cur);
        cur = `  ${w}`;
      } else cur = cur ? `${cur} ${w}` : w;
    }
    return [...out, cur];
  });
}

const requestsOf = (m: MetricsLike | undefined) => figure(m, 'requests.arrived');

/**
 * The verdict as one sentence a person reads at a glance: who won, and by how much in requests
 * and milliseconds, e.g. "In short: the engine loses default by 3 requests: 181 of 151,940 missed
 * their SLO against 178 under locality-first (+1.6 %); p99 latency 1,524 ms against 1,525 ms
 * (tie)". Counts come from each run's own arrivals (both ran on the same ones).
 */
export function verdictInWords(v: ScenarioVerdict, byPolicy: Readonly<Record<string, MetricsLike>>): string {
  if (v.engine_wins === null) return wrap([`In short: ${v.summary}.`]).join('\n');
  const slo = v.metrics.find((m) => m.metric === 'slo_miss_ratio') as MetricVerdict;
  const p99 = v.metrics.find((m) => m.metric === 'latency_ms.p99') as MetricVerdict;
  const best = slo.best as { policy: string; value: number };
  const n = requestsOf(byPolicy.engine),
    nb = requestsOf(byPolicy[best.policy]);
  const pct = (e: number, b: number) =>
    b === 0 ? '' : ` (${e >= b ? '+' : '−'}${Number(Math.abs((e / b - 1) * 100).toPrecision(2))} %)`;
  const count = (r: number, of: number | null) =>
    of === null ? fmtFigure(r) : Math.round(r * of).toLocaleString('en-US');
  const missed =
    n === null || nb === null
      ? `an SLO miss ratio of ${fmtFigure(slo.engine as number)} against ${fmtFigure(best.value)} under ${best.policy}`
      : `${count(slo.engine as number, n)} of ${n.toLocaleString('en-US')} requests missed their SLO against ${count(best.value, nb)} under ${best.policy}`;
  const by =
    n === null || nb === null
      ? ''
      : ` by ${Math.abs(Math.round((slo.engine as number) * n) - Math.round(best.value * nb)).toLocaleString('en-US')} requests`;
  const p99Words = `p99 latency ${fmtFigure(p99.engine as number)} ms against ${p99.best?.policy}'s ${fmtFigure(p99.best?.value as number)} ms (${p99.outcome})`;
  const tied = slo.outcome === 'tie';
  return wrap([
    `In short: the engine ${v.engine_wins ? 'wins' : 'loses'} ${v.scenario}${tied ? '' : by}: ${missed}${tied ? ', a tie' : pct(slo.engine as number, best.value)}; ${p99Words}.`,
  ]).join('\n');
}
