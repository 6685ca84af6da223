/**
 * Durations as people write them: "90s", "30m", "24h", "2d", "250ms" or a plain number of
 * seconds, bounded so that no duration can ask for a run, a recording or a wait of years.
 *
 * @example
 * parseDuration_s('1.5m'); // → 90
 * parseDuration_s('1000000000h'); // throws: over the limit of 366 days
 */

/** Longest duration fgo accepts anywhere (a simulated run, a recording, a fault time): 366 days. */
export const MAX_DURATION_S = 366 * 86_400;

const UNIT_S = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Seconds of a well-formed duration text, unbounded; undefined for a text that is no duration. */
export function durationSeconds(v: string): number | undefined {
  const m = /^(\d{1,15}(?:\.\d{1,15})?)(ms|s|m|h|d)?$/.exec(v.trim());
  return m ? Number(m[1]) * UNIT_S[(m[2] ?? 's') as keyof typeof UNIT_S] : undefined;
}

/** Seconds of a duration text or number; throws a RangeError saying what is wrong. */
export function parseDuration_s(v: string | number): number {
  if (typeof v === 'number') return checked(v, String(v));
  const s = durationSeconds(v);
  if (s === undefined)
    throw new RangeError(`'${v.length > 40 ? `${v.slice(0, 40)}…` : v}' is not a duration (examples: 90s, 30m, 24h)`);
  return checked(s, v);
}

function checked(s: number, text: string): number {
  if (!Number.isFinite(s) || s < 0)
    throw new RangeError(`'${text}' is not a duration: it must be a finite number of seconds, 0 or more`);
  if (s > MAX_DURATION_S)
    throw new RangeError(`'${text}' is over the limit of ${MAX_DURATION_S / 86_400} days (${MAX_DURATION_S} s)`);
  return s;
}
