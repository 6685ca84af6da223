/**
 * Reading run directories (docs/formats.md "The run directory") for the report, and aggregating them into
 * time bins on the way in. Run directories can be large — a 24-hour run's decisions.jsonl is
 * hundreds of MB — so nothing here keeps per-request or per-row data: the timeseries and the
 * decision journal are streamed once and folded into at most a few hundred bins per run (and a
 * bounded number of heat-map cells), which is what keeps a 24-hour, 64-node report small and quick
 * to open. Only the small files (run.json, metrics.json, faults.json, wall.json) are read whole.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../formats/errors.ts';
import { MAX_JSON_BYTES, readInputText } from '../formats/inputs.ts';
import { lineColAt, MAX_JSON_DEPTH, nestingTooDeep } from '../formats/json.ts';
import { wallFromFile } from '../formats/wall.ts';
import { z } from 'zod';
import { DEFAULT_HEADROOM } from '../sim/agent-loop.ts';
import { parseDuration_s } from '../formats/duration.ts';
import { cdfOf } from './histograms.ts';
import { forEachLine } from './run-files.ts';

const level = z.object({ low: z.number(), medium: z.number(), high: z.number(), critical: z.number() });
/** Only the parts of run.json the report uses; everything else passes through untouched. */
const runJsonSchema = z.looseObject({
  policy: z.string(),
  seed: z.union([z.string(), z.number()]).transform(String),
  scenario: z.looseObject({
    name: z.string(),
    duration: z.union([z.string(), z.number()]),
    profiles: z
      .record(
        z.string(),
        z.looseObject({
          cpu_ms: z.looseObject({ mean: z.number().optional() }).optional(),
          io_ms: z.number().optional(),
          warm_start_ms: z.number().optional(),
        }),
      )
      .default({}),
  }),
  engine_config: z.looseObject({
    pressure: z.looseObject({ thresholds: z.object({ cpu: level, memory: level, io: level }) }),
    scaling: z.looseObject({ interval_ms: z.number().positive() }),
  }),
  /** How much of the decision stream the run kept (sim/run.ts DecisionLog); absent: compact. */
  decisions: z.union([z.string(), z.looseObject({ sample: z.number().int().positive() })]).optional(),
});
export type RunJson = z.infer<typeof runJsonSchema>;

const metricsSchema = z.looseObject({
  latency_ms: z.looseObject({ p50: z.number(), p95: z.number(), p99: z.number(), max: z.number() }),
  local_access_ratio: z.number(),
});
export type MetricsJson = z.infer<typeof metricsSchema> & Record<string, unknown>;

const faultSchema = z.array(
  z.object({
    kind: z.string(),
    target: z.string(),
    injected_s: z.number(),
    detected_s: z.number().nullable(),
    recovered_s: z.number().nullable(),
  }),
);
export type FaultRow = z.infer<typeof faultSchema>[number];

/** The small files of one run directory, validated. */
export interface RunMeta {
  dir: string;
  /** Unique display name: the policy when that tells runs apart, else more of the path. */
  label: string;
  run: RunJson;
  metrics: MetricsJson;
  faults: FaultRow[];
  wall?: Record<string, unknown>;
  duration_s: number;
  /** The latency CDF from histograms.json (overall, and end to end when the run made calls); absent in older run directories. */
  cdf?: { overall: Array<{ p: number; ms: number }>; e2e?: Array<{ p: number; ms: number }> };
}

/**
 * Run directories from what the user named: a run directory itself, or a directory of them (what
 * `fgo compare` writes), which stands for every run directory inside it, sorted by name.
 */
export function expandRunDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (existsSync(join(d, 'run.json')) || !existsSync(d) || !statSync(d).isDirectory()) {
      out.push(d);
      continue;
    }
    const inner = readdirSync(d)
      .sort()
      .map((n) => join(d, n))
      .filter((p) => existsSync(join(p, 'run.json')));
    out.push(...(inner.length ? inner : [d]));
  }
  return out;
}

function readJsonFile<T>(file: string, schema: z.ZodType<T>, problems: string[]): T | undefined {
  if (!existsSync(file)) {
    problems.push(`${file}: missing`);
    return undefined;
  }
  let value: unknown;
  try {
    const text = readInputText(file, MAX_JSON_BYTES, 'run files');
    const deep = nestingTooDeep(text, MAX_JSON_DEPTH);
    if (deep) {
      const at = lineColAt(text, deep.offset);
      problems.push(`${file}:${at.line}:${at.col}: nested deeper than ${MAX_JSON_DEPTH} levels`);
      return undefined;
    }
    value = JSON.parse(text);
  } catch (e) {
    problems.push(...(e instanceof InputError ? e.problems : [`${file}: not JSON: ${(e as Error).message}`]));
    return undefined;
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    for (const i of r.error.issues) problems.push(`${file}: ${i.path.join('.') || '(top)'}: ${i.message}`);
    return undefined;
  }
  return r.data;
}

/** Read and validate the small files of every run; all problems of all runs in one error. */
export function readRuns(dirs: readonly string[]): RunMeta[] {
  const problems: string[] = [];
  const runs: RunMeta[] = [];
  if (dirs.length === 0) problems.push('no run directory given');
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      problems.push(`${dir}: not a directory`);
      continue;
    }
    const run = readJsonFile(join(dir, 'run.json'), runJsonSchema, problems);
    const metrics = readJsonFile(join(dir, 'metrics.json'), metricsSchema, problems) as MetricsJson | undefined;
    const faults = existsSync(join(dir, 'faults.json'))
      ? readJsonFile(join(dir, 'faults.json'), faultSchema, problems)
      : [];
    const wallRaw = existsSync(join(dir, 'wall.json'))
      ? readJsonFile(join(dir, 'wall.json'), z.record(z.string(), z.unknown()), problems)
      : undefined;
    const wall = wallRaw && wallFromFile(wallRaw);
    if (!existsSync(join(dir, 'timeseries.csv'))) problems.push(`${join(dir, 'timeseries.csv')}: missing`);
    if (!run || !metrics || !faults) continue;
    let duration_s = NaN;
    try {
      duration_s = parseDuration_s(run.scenario.duration);
    } catch (e) {
      problems.push(`${join(dir, 'run.json')}: scenario.duration: ${(e as Error).message}`);
    }
    const cdf = readCdf(dir, problems);
    runs.push({ dir, label: '', run, metrics, faults, ...(wall ? { wall } : {}), duration_s, ...(cdf ? { cdf } : {}) });
  }
  if (problems.length) throw new InputError(problems);
  labelRuns(runs);
  return runs;
}

const histogramsSchema = z.looseObject({
  format: z.literal('fgo-histograms/1'),
  unit: z.literal('us'),
  overall: z.string(),
  e2e: z.string().optional(),
});

/** The CDFs of histograms.json, when the run directory has one (each problem named by file). */
function readCdf(dir: string, problems: string[]): RunMeta['cdf'] {
  const file = join(dir, 'histograms.json');
  if (!existsSync(file)) return undefined;
  const h = readJsonFile(file, histogramsSchema, problems);
  if (!h) return undefined;
  const overall = cdfOf(h.overall);
  const e2e = h.e2e === undefined ? undefined : cdfOf(h.e2e);
  for (const [k, r] of [
    ['overall', overall],
    ['e2e', e2e],
  ] as const)
    if (r && 'problem' in r) problems.push(`${file}: ${k}: ${r.problem}`);
  if ('problem' in overall || (e2e && 'problem' in e2e)) return undefined;
  return { overall: overall.points, ...(e2e && 'points' in e2e && h.e2e !== h.overall ? { e2e: e2e.points } : {}) };
}

/**
 * Policy names when they are unique; otherwise scenario/policy, then the enclosing directory and
 * the policy (a --vary compare's VARIANT/POLICY), then the directory name, then a number.
 */
function labelRuns(runs: RunMeta[]): void {
  const unique = (f: (r: RunMeta) => string) => new Set(runs.map(f)).size === runs.length;
  const pick = [
    (r: RunMeta) => r.run.policy,
    (r: RunMeta) => `${r.run.scenario.name}/${r.run.policy}`,
    (r: RunMeta) => `${basename(dirname(r.dir))}/${r.run.policy}`,
    (r: RunMeta) => basename(r.dir),
  ].find(unique);
  runs.forEach((r, i) => (r.label = pick ? pick(r) : `${i + 1}: ${basename(r.dir)}`));
}

/** One time bin of the system-wide ('all') rows and of the decision journal. */
export interface SysBin {
  /** Bin start, s. */
  t_s: number;
  /** PSI avg10 in percent: the largest value in the bin, so short spikes survive aggregation. */
  cpu_some: number;
  cpu_full: number;
  mem_some: number;
  mem_full: number;
  io_some: number;
  io_full: number;
  /** Means over the bin. */
  util: number;
  active: number;
  warm: number;
  /** Pool size (active + warm) at the bin's last sample, for the scale lanes. */
  pool_end: number;
  /** Mean local-access ratio, when timeseries.csv has a `local_access_ratio` column. */
  local?: number;
  arrivals: number;
  defer: number;
  shed: number;
  reject: number;
  replaced: number;
  /** The demand predictor's view in force during the bin (means): pool size and demand, req/s. */
  pred_size: number;
  pred_rate: number;
}

export interface RunSeries {
  bins: SysBin[];
  /** Mean CPU utilization per node and heat bin. */
  heat: Array<{ t_s: number; node: number; util: number }>;
  nodes: number[];
  decisions: { total: number; byAction: Record<string, number> };
  hasLocalColumn: boolean;
  /** How the predicted series was obtained, or why there is none. */
  predictor: string;
}

function strField(s: string, key: string): string | undefined {
  const k = `"${key}":"`;
  const i = s.indexOf(k);
  if (i < 0) return undefined;
  const j = s.indexOf('"', i + k.length);
  return j < 0 ? undefined : s.slice(i + k.length, j);
}

function numField(s: string, key: string): number | undefined {
  const k = `"${key}":`;
  const i = s.indexOf(k);
  if (i < 0) return undefined;
  // Integers (the journal's times are whole ms) without a regex or a substring: this runs per line.
  let j = i + k.length,
    v = 0,
    digits = 0;
  for (let c = s.charCodeAt(j); c >= 48 && c <= 57; c = s.charCodeAt(++j), digits++) v = v * 10 + (c - 48);
  if (digits === 0) return undefined;
  const c = s.charCodeAt(j);
  if (c !== 46 && c !== 101 && c !== 69) return v; // not '.', 'e', 'E'
  const m = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(s.slice(i + k.length, i + k.length + 32));
  return m ? Number(m[0]) : undefined;
}

/** Which request ids were seen: a bit set for the twin's sequential `rN` ids, a Set otherwise. */
class SeenIds {
  private bits = new Uint8Array(1 << 16);
  private other = new Set<string>();
  /** True the first time an id is offered. */
  first(id: string): boolean {
    // 'r' then a number without leading zeros, below 2^30 (so n >> 3 stays a valid index).
    let n = id.length > 1 && id.charCodeAt(0) === 114 && (id.length === 2 || id.charCodeAt(1) !== 48) ? 0 : -1;
    for (let i = 1; n >= 0 && i < id.length; i++) {
      const c = id.charCodeAt(i);
      n = c >= 48 && c <= 57 && n < 2 ** 26 ? n * 10 + (c - 48) : -1;
    }
    if (n < 0) return this.other.has(id) ? false : (this.other.add(id), true);
    if (n >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (n >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    const was = (this.bits[n >> 3] as number) & (1 << (n & 7));
    this.bits[n >> 3] = (this.bits[n >> 3] as number) | (1 << (n & 7));
    return was === 0;
  }
}

const PSI_COLS = [
  'cpu_some_avg10',
  'cpu_full_avg10',
  'mem_some_avg10',
  'mem_full_avg10',
  'io_some_avg10',
  'io_full_avg10',
] as const;
const PSI_KEYS = ['cpu_some', 'cpu_full', 'mem_some', 'mem_full', 'io_some', 'io_full'] as const;

/**
 * Fold one run's timeseries.csv and decisions.jsonl into `bin_s` bins (and node heat cells of
 * `heat_bin_s`). Arrivals are the first decision about each request id; a deferred request is
 * decided again when it retries, and a request whose fragment failed is placed again
 * ("re-placed": a placement of a request that was already placed).
 * The predictor's view is what forecasts.csv recorded (readForecasts).
 */
export async function aggregateRun(meta: RunMeta, bin_s: number, heat_bin_s: number): Promise<RunSeries> {
  const nb = Math.max(1, Math.ceil(meta.duration_s / bin_s));
  const binOf = (t_s: number) => Math.min(nb - 1, Math.max(0, Math.floor(t_s / bin_s)));
  const bins: SysBin[] = Array.from({ length: nb }, (_, i) => ({
    t_s: i * bin_s,
    cpu_some: 0,
    cpu_full: 0,
    mem_some: 0,
    mem_full: 0,
    io_some: 0,
    io_full: 0,
    util: 0,
    active: 0,
    warm: 0,
    pool_end: NaN,
    arrivals: 0,
    defer: 0,
    shed: 0,
    reject: 0,
    replaced: 0,
    pred_size: 0,
    pred_rate: 0,
  }));
  const rows = new Array<number>(nb).fill(0);
  const localSum = new Array<number>(nb).fill(0);

  // timeseries.csv: columns found by name, so added columns do not break the report.
  const nhb = Math.max(1, Math.ceil(meta.duration_s / heat_bin_s));
  const heatSum = new Map<number, Float64Array>();
  const heatN = new Map<number, Uint32Array>();
  let col: Record<string, number> = {};
  let first = true;
  forEachLine(join(meta.dir, 'timeseries.csv'), (_head, full) => {
    const f = full().split(',');
    if (first) {
      first = false;
      col = Object.fromEntries(f.map((name, i) => [name.trim(), i]));
      // Run directories written before the PSI columns said their unit name them without `_pct`
      // (same values, percent); those are on users' disks, so both names are read.
      for (const c of PSI_COLS) if (!(c in col) && `${c}_pct` in col) col[c] = col[`${c}_pct`] as number;
      const missing = ['t_s', 'node', 'cpu_util', ...PSI_COLS, 'active', 'warm'].filter((c) => !(c in col));
      if (missing.length)
        throw new InputError([`${join(meta.dir, 'timeseries.csv')}: missing column(s) ${missing.join(', ')}`]);
      return;
    }
    const get = (c: string) => Number(f[col[c] as number]);
    const t = get('t_s');
    const node = f[col.node as number];
    if (node === 'all') {
      const b = bins[binOf(t)] as SysBin;
      PSI_COLS.forEach(
        (c, i) =>
          (b[PSI_KEYS[i] as (typeof PSI_KEYS)[number]] = Math.max(b[PSI_KEYS[i] as (typeof PSI_KEYS)[number]], get(c))),
      );
      b.util += get('cpu_util');
      b.active += get('active');
      b.warm += get('warm');
      b.pool_end = get('active') + get('warm');
      if ('local_access_ratio' in col) localSum[binOf(t)] = (localSum[binOf(t)] as number) + get('local_access_ratio');
      rows[binOf(t)] = (rows[binOf(t)] as number) + 1;
    } else {
      const id = Number(node);
      if (!heatSum.has(id)) heatSum.set(id, new Float64Array(nhb)), heatN.set(id, new Uint32Array(nhb));
      const hb = Math.min(nhb - 1, Math.floor(t / heat_bin_s));
      const hs = heatSum.get(id) as Float64Array,
        hn = heatN.get(id) as Uint32Array;
      hs[hb] = (hs[hb] as number) + get('cpu_util');
      hn[hb] = (hn[hb] as number) + 1;
    }
  });
  const hasLocalColumn = 'local_access_ratio' in col;
  bins.forEach((b, i) => {
    const n = rows[i] as number;
    if (n > 0) {
      b.util /= n;
      b.active /= n;
      b.warm /= n;
      if (hasLocalColumn) b.local = (localSum[i] as number) / n;
    }
  });

  // decisions.jsonl: per-bin actions and arrivals.
  const seen = new SeenIds();
  /** Requests whose latest decision was a deferral: bounded by the deferrals outstanding. */
  const deferred = new Set<string>();
  const byAction: Record<string, number> = {};
  let total = 0,
    line = 0;
  // A sampled journal keeps one decision in N: each stands for N in the counts.
  const logged = meta.run.decisions;
  const w = typeof logged === 'object' ? logged.sample : 1;
  const decisions = join(meta.dir, 'decisions.jsonl');
  if (existsSync(decisions)) {
    forEachLine(decisions, (head, full) => {
      let t_ms = numField(head, 't_ms'),
        action = strField(head, 'action'),
        id = strField(head, 'request_id');
      line++;
      if (t_ms === undefined || action === undefined) {
        let d: { t_ms?: number; action?: string; request_id?: string };
        try {
          d = JSON.parse(full()) as typeof d;
        } catch (e) {
          throw new InputError([`${decisions}:${line}: not JSON: ${(e as Error).message}`]);
        }
        ({ t_ms, action, request_id: id } = d);
      }
      if (t_ms === undefined || action === undefined) return;
      total += w;
      byAction[action] = (byAction[action] ?? 0) + w;
      const b = bins[binOf(t_ms / 1000)] as SysBin;
      if (action === 'defer') b.defer += w;
      else if (action === 'shed') b.shed += w;
      else if (action === 'reject') b.reject += w;
      if (id === undefined) return;
      // A deferred request is decided again when it retries: neither an arrival nor a re-placement.
      const retry = deferred.delete(id);
      if (action === 'defer') deferred.add(id);
      if (seen.first(id)) b.arrivals += w;
      else if (action === 'place' && !retry) b.replaced += w;
    });
  }

  const pred = readForecasts(meta);
  bins.forEach((b, bi) => {
    // Mean over the bin of the prediction in force: the one made before the bin, then each made inside it.
    const start_s = bi * bin_s,
      end_s = Math.min(meta.duration_s, (bi + 1) * bin_s);
    const inside = pred.points.filter((p) => p.t_s >= start_s && p.t_s < end_s);
    const before = pred.points.filter((p) => p.t_s <= start_s).at(-1);
    const used =
      before && (inside[0]?.t_s ?? Infinity) > start_s
        ? [before, ...inside]
        : inside.length
          ? inside
          : before
            ? [before]
            : [];
    b.pred_size = used.length ? used.reduce((a, p) => a + p.size, 0) / used.length : NaN;
    b.pred_rate = used.length ? used.reduce((a, p) => a + p.rate, 0) / used.length : NaN;
  });

  const nodes = [...heatSum.keys()].sort((a, b) => a - b);
  const heat: RunSeries['heat'] = [];
  for (const node of nodes) {
    const s = heatSum.get(node) as Float64Array,
      n = heatN.get(node) as Uint32Array;
    for (let i = 0; i < nhb; i++)
      if ((n[i] as number) > 0) heat.push({ t_s: i * heat_bin_s, node, util: (s[i] as number) / (n[i] as number) });
  }
  return { bins, heat, nodes, decisions: { total, byAction }, hasLocalColumn, predictor: pred.note };
}

/**
 * The demand predictor's output over the run, as the run directory's forecasts.csv recorded it
 * (sim/run.ts): per scaling cycle, the pool sizes and rates it asked for, summed over profiles.
 * A run directory written before fgo recorded forecasts has none, and the chart says so.
 */
function readForecasts(meta: RunMeta): { points: Array<{ t_s: number; size: number; rate: number }>; note: string } {
  const p = (meta.run as { predictor?: { name?: string; headroom?: number } }).predictor;
  const name = p?.name ?? 'ewma';
  const file = join(meta.dir, 'forecasts.csv');
  if (!existsSync(file))
    return {
      points: [],
      note: `no forecasts.csv in the run directory (written before fgo recorded forecasts), so no predicted series is drawn`,
    };
  const byT = new Map<number, { size: number; rate: number }>();
  let line = 0;
  forEachLine(file, (head) => {
    if (line++ === 0) return; // the header
    const f = head.split(',');
    const t_s = Number(f[0]),
      rate = Number(f[2]),
      size = Number(f[4]);
    if (f.length !== 5 || ![t_s, rate, size].every(Number.isFinite))
      throw new InputError([
        `${file}:${line}: not a forecasts.csv row (t_s,profile,demand_per_s,demand_p90_per_s,recommended_size)`,
      ]);
    const at = byT.get(t_s) ?? { size: 0, rate: 0 };
    at.size += size;
    at.rate += rate;
    byT.set(t_s, at);
  });
  return {
    points: [...byT].sort((a, b) => a[0] - b[0]).map(([t_s, v]) => ({ t_s, ...v })),
    note: `the '${name}' predictor's forecasts, as forecasts.csv recorded them at each scaling cycle (headroom ${p?.headroom ?? DEFAULT_HEADROOM})`,
  };
}
