/**
 * The study contract: what `fgo study` (cli/study.ts) hands a what-if notebook (notebooks/*.ts, or
 * a user's module whose default export is a `Study`) and what it expects back. It lives below both
 * so the command never imports a notebook's code, only loads the module it is given by path.
 */

export interface StudyContext {
  /** The study's output directory: run directories, report.html (summary.json is the caller's). */
  out: string;
  /** A small, fast version: a few simulated minutes and fewer points (tests, a first look). */
  quick: boolean;
  log: (s: string) => void;
  /** Worker threads for the study's runs (`fgo study --workers`; default 0: this thread). */
  workers?: number;
}

export interface StudyResult {
  /** Path of the HTML report written by reports/report.ts's writeReport. */
  report: string;
  /** The study-specific numbers; `fgo study` writes them to OUT/summary.json. */
  summary: unknown;
}

export type Study = (ctx: StudyContext) => Promise<StudyResult>;
