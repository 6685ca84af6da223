/**
 * What the importers share: reading a fixed header, timestamps read as UTC, short profile names
 * for hashes, and the small summaries their notes are made of (gaps, plurals). One place, so the
 * formats word their notes and name their profiles alike.
 */
import { InputError } from '../errors.ts';
import { headerError, readCsv, type Fields } from '../csv.ts';
import type { ImportFormat, ImportOptions } from './types.ts';

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;

/** Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.fraction]` read as UTC; undefined if not one. */
export function parseTimestampUs(text: string): number | undefined {
  const m = STAMP.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  )
    return undefined;
  return ms * 1000 + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1e6) : 0);
}

export const round3 = (x: number) => Math.round(x * 1000) / 1000;
// Loops, not Math.min(...xs): spreading a million-row trace would overflow the stack.
// Comparisons, not Math.min/max: a NaN is skipped and 0 is kept over a later -0, as the callers have always had it.
export function minOf(xs: readonly number[], empty = 0): number {
  if (!xs.length) return empty;
  let min = Infinity;
  for (const x of xs) if (x < min) min = x;
  return min;
}
export function maxOf(xs: readonly number[], atLeast = -Infinity): number {
  let max = atLeast;
  for (const x of xs) if (x > max) max = x;
  return max;
}

/** The data records after a header that must be exactly `columns` (in this order). */
export function withHeader(file: string, format: ImportFormat, columns: readonly string[]) {
  const { records, broken } = readCsv(file);
  const h = records[0];
  if (!h)
    throw new InputError([`${file}:1:1: empty file: expected the header "${columns.join(',')}" of --format ${format}`]);
  if (h.fields.length !== columns.length || h.fields.some((c, i) => c !== columns[i])) {
    const i = h.fields.findIndex((c, k) => c !== columns[k]);
    headerError(
      file,
      h.line,
      i < 0 ? columns.length + 1 : i + 1,
      `expected the header "${columns.join(',')}" of --format ${format}, got "${h.fields.join(',').slice(0, 120)}"`,
    );
  }
  return { records: records.slice(1), broken, index: new Map(columns.map((c, i) => [c, i])) };
}

/** A time column as microseconds, recording an issue when it is not a timestamp. */
export function stamp(f: Fields, column: string): number {
  const t = f.text(column);
  const us = parseTimestampUs(t);
  if (us === undefined) {
    f.fail(column, t === '' ? 'is empty' : `not a timestamp YYYY-MM-DD HH:MM:SS[.fraction]: "${t}"`);
    return NaN;
  }
  return us;
}

/**
 * Short, stable profile names for hashes: the first 8 characters of a hex hash (more, for all of
 * them, if two would collide), or `fn-<n>` (n-th distinct hash, 1-based) for one that is not hex.
 */
export function shortNames(hashes: Iterable<string>): { names: Map<string, string>; length: number } {
  const distinct = [...new Set(hashes)];
  const hex = distinct.filter((h) => /^[0-9a-fA-F]{8,}$/.test(h));
  const longest = maxOf(
    hex.map((h) => h.length),
    8,
  );
  let length = 8;
  while (length < longest && new Set(hex.map((h) => h.slice(0, length))).size < hex.length) length++;
  const names = new Map<string, string>();
  distinct.forEach((h, i) => {
    names.set(h, /^[0-9a-fA-F]{8,}$/.test(h) ? h.slice(0, length) : `fn-${i + 1}`);
  });
  return { names, length };
}

export const prefixed = (opts: ImportOptions, name: string) =>
  opts.profile !== undefined ? `${opts.profile}-${name}` : name;

/** The most common gap between consecutive times, the longest, and how many exceed the common one. */
export function gaps(times: readonly number[]): { common: number; longest: number; over: number } {
  const counts = new Map<number, number>();
  let longest = 0;
  for (let i = 1; i < times.length; i++) {
    const g = (times[i] as number) - (times[i - 1] as number);
    counts.set(g, (counts.get(g) ?? 0) + 1);
    longest = Math.max(longest, g);
  }
  let common = 0;
  let best = 0;
  for (const [g, n] of counts) if (n > best || (n === best && g < common)) [common, best] = [g, n];
  let over = 0;
  for (const [g, n] of counts) if (g > common) over += n;
  return { common, longest, over };
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
