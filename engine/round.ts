/**
 * The one decimal rounding of figures written to decisions, metrics and reports. 10 ** digits is
 * exact for digits 0–22, so this is bit for bit what `Math.round(x * 1e4) / 1e4` and its like gave.
 * Infinity and NaN pass through unchanged.
 */
export function roundTo(x: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(x * scale) / scale;
}

/** A figure in a decision's reason: rounded to `digits` (3 unless told), without trailing zeros. */
export function figure(x: number, digits = 3): string {
  return String(roundTo(x, digits));
}
