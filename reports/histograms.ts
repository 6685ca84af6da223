/**
 * histograms.json of a run directory (sim/metrics.ts `histograms`): whole latency distributions,
 * each an HdrHistogram in its compressed base64 encoding, read back into CDF points for the
 * report. A run directory is input from outside: each histogram's header is checked (by inflating
 * at most MAX_INFLATED bytes of it) before hdr-histogram-js builds anything from it, since a forged
 * header could ask for a histogram of any size.
 */
import { inflateSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';

/** Largest encoded histogram read (fgo's are ~10 KB). */
const MAX_ENCODED = 256 * 1024;
const MAX_INFLATED = 4 * 1024 * 1024;
/** What fgo records: 1 µs to one hour at 3 significant digits (sim/metrics.ts). */
const MAX_VALUE = 3_600_000_000;
const MAX_DIGITS = 3;
const COMPRESSED_COOKIE = 0x1c849314;

/** The fractions of requests the CDF is drawn at: every percent, then the tail. */
export const CDF_FRACTIONS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, i) => (i + 1) / 100),
  0.995,
  0.999,
  0.9995,
  0.9999,
  1,
];

/** Why the encoding is not one fgo wrote, or undefined when its header is within bounds. */
function headerProblem(b64: string): string | undefined {
  if (b64.length > MAX_ENCODED) return `longer than ${MAX_ENCODED} characters`;
  const b = Buffer.from(b64, 'base64');
  if (b.length < 8 || b.readInt32BE(0) !== COMPRESSED_COOKIE) return 'not a compressed HdrHistogram';
  let u: Buffer;
  try {
    u = inflateSync(b.subarray(8), { maxOutputLength: MAX_INFLATED });
  } catch (e) {
    return `cannot be inflated (${(e as Error).message})`;
  }
  if (u.length < 40) return 'too short for a histogram header';
  const digits = u.readInt32BE(12),
    lowest = u.readBigInt64BE(16),
    highest = u.readBigInt64BE(24);
  if (digits < 1 || digits > MAX_DIGITS || lowest < 1n || highest > BigInt(MAX_VALUE) || highest < lowest)
    return `a histogram fgo does not write (${digits} digits, ${lowest}–${highest})`;
  return undefined;
}

/** CDF points (fraction of requests, latency ms) of one encoded histogram of µs; or why it cannot be read. */
export function cdfOf(b64: string): { points: Array<{ p: number; ms: number }> } | { problem: string } {
  const problem = headerProblem(b64);
  if (problem) return { problem };
  const h = hdr.decodeFromCompressedBase64(b64, 32, false);
  if (h.totalCount === 0) return { points: [] };
  return {
    points: CDF_FRACTIONS.map((p) => ({ p, ms: Math.min(h.getValueAtPercentile(p * 100), h.maxValue) / 1000 })),
  };
}
