/**
 * Demand traces (`t_s,profile,count`) as per-profile series of counts per interval — the shape a
 * shell's DemandTracker produces — and the time-ordered split every figure of the predictor uses.
 *
 * A trace is *regular* when at least 90 % of the gaps between a profile's consecutive rows equal
 * the trace's most common gap: it is then put on that grid, and an interval without a row counts
 * 0 arrivals, as docs/formats.md defines the format (the Azure importer leaves zero minutes out; the NAB
 * importer leaves its few missing samples out, which thereby read as zeros too). An *irregular*
 * trace (the Alibaba utilization samples, 10–70 s apart) cannot be gridded without inventing
 * values, so its series is its rows in order, each row one interval, and `interval_s` is the
 * median gap. Either way every figure is "one step ahead" on the series the trace defines.
 */
import type { DemandRow } from '../formats/workload-traces.ts';

export interface Series {
  profile: string;
  /** Seconds per interval (the median gap of an irregular trace). */
  interval_s: number;
  regular: boolean;
  /** Start of each interval, seconds; `counts[i]` arrivals in the interval starting at `t_s[i]`. */
  t_s: number[];
  counts: number[];
}

/** Share of gaps that must equal the most common one for a trace to be gridded. */
export const REGULAR_SHARE = 0.9;

/** The most common gap between consecutive rows of each profile, over the whole trace (ties: the smaller). */
function gapStats(byProfile: ReadonlyMap<string, DemandRow[]>): { common: number; share: number; median: number } {
  const counts = new Map<number, number>();
  const all: number[] = [];
  for (const rows of byProfile.values()) {
    for (let i = 1; i < rows.length; i++) {
      const g = (rows[i] as DemandRow).t_s - (rows[i - 1] as DemandRow).t_s;
      counts.set(g, (counts.get(g) ?? 0) + 1);
      all.push(g);
    }
  }
  let common = 0;
  let best = 0;
  for (const [g, n] of counts) if (n > best || (n === best && g < common)) [common, best] = [g, n];
  all.sort((a, b) => a - b);
  return { common, share: all.length ? best / all.length : 1, median: all[Math.floor(all.length / 2)] ?? 0 };
}

/**
 * Per-profile series of a demand trace, sorted by profile name. `interval_s` forces the grid
 * (e.g. for a one-row trace); otherwise it is found as described above.
 */
export function seriesOfRows(rows: readonly DemandRow[], interval_s?: number): Series[] {
  const byProfile = new Map<string, DemandRow[]>();
  for (const r of rows) {
    let list = byProfile.get(r.profile);
    if (!list) byProfile.set(r.profile, (list = []));
    list.push(r);
  }
  const g = gapStats(byProfile);
  const regular = interval_s !== undefined || (g.common > 0 && g.share >= REGULAR_SHARE);
  const step = interval_s ?? (regular ? g.common : g.median > 0 ? g.median : 1);
  const out: Series[] = [];
  for (const profile of [...byProfile.keys()].sort()) {
    const list = byProfile.get(profile) as DemandRow[];
    if (!regular) {
      out.push({ profile, interval_s: step, regular, t_s: list.map((r) => r.t_s), counts: list.map((r) => r.count) });
      continue;
    }
    const start = (list[0] as DemandRow).t_s;
    const n = Math.floor(((list.at(-1) as DemandRow).t_s - start) / step) + 1;
    const counts = new Array<number>(n).fill(0);
    for (const r of list) {
      const k = Math.floor((r.t_s - start) / step);
      counts[k] = (counts[k] as number) + r.count;
    }
    out.push({ profile, interval_s: step, regular, t_s: counts.map((_, k) => start + k * step), counts });
  }
  return out;
}

/** Index of the first interval of the held-out second half. */
export const splitIndex = (s: { counts: readonly unknown[] }) => Math.floor(s.counts.length / 2);

/**
 * The horizon in intervals of a series: `horizon_s / interval_s`, or 1 (one interval) when no
 * horizon is given. It may be fractional (5 min on a 30-min series is 1/6).
 */
export function horizonIntervals(s: { interval_s: number }, horizon_s: number | undefined): number {
  return horizon_s === undefined ? 1 : horizon_s / s.interval_s;
}

/**
 * Arrivals over the `h` intervals starting at index `k`; a fractional last interval counts pro
 * rata (arrivals spread evenly within an interval). Undefined when the series ends before.
 */
export function labelAt(counts: readonly number[], k: number, h: number): number | undefined {
  const whole = Math.floor(h + 1e-9);
  const part = h - whole > 1e-9 ? h - whole : 0;
  const need = whole + (part > 0 ? 1 : 0);
  if (k < 0 || k + need > counts.length) return undefined;
  let y = 0;
  for (let j = 0; j < whole; j++) y += counts[k + j] as number;
  if (part > 0) y += part * (counts[k + whole] as number);
  return y;
}

/** How many whole intervals a label at horizon `h` reads (for bounds). */
export const labelSpan = (h: number) => Math.ceil(h - 1e-9);

/**
 * The series seen `factor` times coarser: each `factor` consecutive intervals summed into one (a
 * trailing partial group dropped). Training adds such views (train.ts) so the model learns what
 * traffic does at half-hour resolution from series recorded every five minutes.
 */
export function coarsened(s: Series, factor: number): Series {
  const n = Math.floor(s.counts.length / factor);
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < n * factor; i++)
    counts[Math.floor(i / factor)] = (counts[Math.floor(i / factor)] as number) + (s.counts[i] as number);
  return {
    profile: `${s.profile}×${factor}`,
    interval_s: s.interval_s * factor,
    regular: s.regular,
    t_s: counts.map((_, k) => s.t_s[k * factor] as number),
    counts,
  };
}
