/**
 * What every notebook shares: the study contract `fgo study` calls (a module whose default export
 * is a `Study`), run directories laid out under the study's output directory, and a plain-text
 * table for the log. Not a notebook itself (it has no default export, so `fgo study` refuses it).
 */
import { join } from 'node:path';
import type { PolicyName } from '../sim/baselines.ts';
import { runSimulation, type RunInputs, type RunResult } from '../sim/run.ts';

export interface StudyContext {
  /** The study's output directory: run directories, report.html (summary.json is the caller's). */
  out: string;
  /** A small, fast version: a few simulated minutes and fewer points (tests, a first look). */
  quick: boolean;
  log: (s: string) => void;
}

export interface StudyResult {
  /** Path of the HTML report written by reports/report.ts's writeReport. */
  report: string;
  /** The study-specific numbers; `fgo study` writes them to OUT/summary.json. */
  summary: unknown;
}

export type Study = (ctx: StudyContext) => Promise<StudyResult>;

/** Where a study keeps run `name`: OUT/runs/NAME (the report labels runs by that name). */
export const runDir = (out: string, name: string) => join(out, 'runs', name);

/** One twin run written to OUT/runs/NAME; returns its result (with `dir`). */
export async function runInto(out: string, name: string, inputs: Omit<RunInputs, 'policy' | 'out'>, policy: PolicyName, extra: Partial<RunInputs> = {}): Promise<RunResult & { dir: string }> {
  const dir = runDir(out, name);
  const r = await runSimulation({ ...inputs, ...extra, policy, out: dir });
  return { ...r, dir };
}

/** A file-name-safe slug: "least-loaded, keep-alive 10m" → "least-loaded-keep-alive-10m". */
export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '');

export const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Rows under a header, first column left-aligned, the rest right-aligned. */
export function textTable(head: string[], rows: Array<Array<string | number>>): string {
  const all = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  ')).join('\n');
}
