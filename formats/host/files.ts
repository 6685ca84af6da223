/**
 * Tolerant readers for the kernel's pseudo-files (sysfs, procfs, cgroupfs), shared by the topology
 * and cpuset readers: a missing or unreadable file is `undefined`, never an exception, and an
 * unparsable list becomes a warning, so one odd file never stops a whole topology read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { CpuListError, parseCpuList, parseCpuMask } from './cpulist.ts';

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Numbered entries `prefix<N>` of a directory, sorted by N. */
export function numbered(dir: string, prefix: string): number[] {
  const re = new RegExp(`^${prefix}(\\d+)$`);
  const out: number[] = [];
  for (const name of listDir(dir)) {
    const m = re.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

export type ListParse = { ok: true; ids: number[] } | { ok: false; error: string };

export function parseList(text: string, mask = false): ListParse {
  try {
    return { ok: true, ids: mask ? parseCpuMask(text) : parseCpuList(text) };
  } catch (e) {
    if (e instanceof CpuListError) return { ok: false, error: e.message };
    throw e;
  }
}

/** A list file: undefined if absent; warns (and returns undefined) if unparsable. */
export function readList(path: string, warnings: string[], mask = false): number[] | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const r = parseList(text, mask);
  if (r.ok) return r.ids;
  warnings.push(`${path}: cannot parse (${r.error}); ignored`);
  return undefined;
}
