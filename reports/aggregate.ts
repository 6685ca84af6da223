/**
 * A run directory folded into the report's time bins on the way in (reports/load.ts reads the
 * small files): timeseries.csv and decisions.jsonl are streamed once into at most a few hundred
 * bins per run and a bounded number of heat-map cells, so nothing keeps per-request or per-row
 * data; forecasts.csv gives the predictor's view per bin.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../formats/errors.ts';
import { DEFAULT_HEADROOM } from '../sim/agent-loop.ts';
import type { RunMeta } from './load.ts';
import { forEachLine } from './run-files.ts';

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
    if (n < 0) {
      if (this.other.has(id)) return false;
      this.other.add(id);
      return true;
    }
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

/** Empty system-wide bins covering the run. */
function emptyBins(nb: number, bin_s: number): SysBin[] {
  return Array.from({ length: nb }, (_, i) => ({
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
}

/** Heat-map cells per node: the sum of cpu_util and the number of samples in each. */
interface HeatSums {
  sum: Map<number, Float64Array>;
  n: Map<number, Uint32Array>;
  cells: number;
}

/**
 * timeseries.csv folded into the bins ('all' rows: PSI maxima, means, the pool at the bin's end)
 * and the heat cells (node rows); columns found by name, so added columns do not break the report.
 * Returns whether the file has a local_access_ratio column.
 */
function foldTimeseries(
  meta: RunMeta,
  bins: SysBin[],
  binOf: (t_s: number) => number,
  heat: HeatSums,
  heat_bin_s: number,
): boolean {
  const nb = bins.length;
  const rows = new Array<number>(nb).fill(0);
  const localSum = new Array<number>(nb).fill(0);
  const nhb = heat.cells;
  const heatSum = heat.sum;
  const heatN = heat.n;
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
      for (let i = 0; i < PSI_COLS.length; i++) {
        const key = PSI_KEYS[i] as (typeof PSI_KEYS)[number];
        b[key] = Math.max(b[key], get(PSI_COLS[i] as (typeof PSI_COLS)[number]));
      }
      b.util += get('cpu_util');
      b.active += get('active');
      b.warm += get('warm');
      b.pool_end = get('active') + get('warm');
      if ('local_access_ratio' in col) localSum[binOf(t)] = (localSum[binOf(t)] as number) + get('local_access_ratio');
      rows[binOf(t)] = (rows[binOf(t)] as number) + 1;
    } else {
      const id = Number(node);
      if (!heatSum.has(id)) {
        heatSum.set(id, new Float64Array(nhb));
        heatN.set(id, new Uint32Array(nhb));
      }
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
  return hasLocalColumn;
}

/** decisions.jsonl folded into the bins: actions, arrivals and re-placements, each sampled decision counted N times. */
function foldDecisions(meta: RunMeta, bins: SysBin[], binOf: (t_s: number) => number): RunSeries['decisions'] {
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
  return { total, byAction };
}

/** Each bin's mean of the prediction in force: the one made before the bin, then each made inside it. */
function foldPredictions(meta: RunMeta, bins: SysBin[], bin_s: number): string {
  const pred = readForecasts(meta);
  bins.forEach((b, bi) => {
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
  return pred.note;
}

/** The heat cells that have samples, as mean utilization per node and cell. */
function heatCells(heat: HeatSums, heat_bin_s: number): { nodes: number[]; heat: RunSeries['heat'] } {
  const nhb = heat.cells;
  const heatSum = heat.sum;
  const heatN = heat.n;
  const nodes = [...heatSum.keys()].sort((a, b) => a - b);
  const cells: RunSeries['heat'] = [];
  for (const node of nodes) {
    const s = heatSum.get(node) as Float64Array,
      n = heatN.get(node) as Uint32Array;
    for (let i = 0; i < nhb; i++)
      if ((n[i] as number) > 0) cells.push({ t_s: i * heat_bin_s, node, util: (s[i] as number) / (n[i] as number) });
  }
  return { nodes, heat: cells };
}

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
  const bins = emptyBins(nb, bin_s);
  const heat: HeatSums = {
    sum: new Map(),
    n: new Map(),
    cells: Math.max(1, Math.ceil(meta.duration_s / heat_bin_s)),
  };
  const hasLocalColumn = foldTimeseries(meta, bins, binOf, heat, heat_bin_s);
  const decisions = foldDecisions(meta, bins, binOf);
  const predictor = foldPredictions(meta, bins, bin_s);
  const cells = heatCells(heat, heat_bin_s);
  return { bins, heat: cells.heat, nodes: cells.nodes, decisions, hasLocalColumn, predictor };
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
