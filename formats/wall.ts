/**
 * wall.json, the one run file that differs every run: how long the run took on this machine.
 * Written by sim/run.ts (sim/metrics.ts WallClock), read back by reports (reports/load.ts).
 */

/** wall.json as fgo writes it (docs/formats.md). */
export interface WallJson {
  /** Seconds the run took. */
  wall_s: number;
  events_per_s: number;
  decision_latency_us: { p50: number; p99: number };
  peak_rss_mb: number;
}

/**
 * A wall.json as read from a run directory, in today's names. Run directories written before the
 * key was named with its unit hold `s` instead of `wall_s`; users keep those on disk, so `s` is
 * still accepted (renamed, keeping the key order) when `wall_s` is absent.
 */
export function wallFromFile(raw: Record<string, unknown>): Record<string, unknown> {
  if (!('s' in raw) || 'wall_s' in raw) return raw;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k === 's' ? 'wall_s' : k, v]));
}
