/**
 * The PSI columns of a PSI trace (docs/formats.md "Traces"): the kernel's resources, lines and
 * fields, the 24 column names in canonical order, their names in files (averages carry `_pct`;
 * the older kernel names are still read), and a row's values as the engine's `PsiSet`. Apart from
 * traces.ts so that the live recorder, which writes these columns, needs only the names.
 */
import type { PsiLine, PsiReading, PsiSet } from '../engine/types.ts';

export const PSI_RESOURCES = ['cpu', 'mem', 'io'] as const;
export const PSI_LINES = ['some', 'full'] as const;
export const PSI_FIELDS = ['avg10', 'avg60', 'avg300', 'total_us'] as const;
export type PsiColumn =
  `${(typeof PSI_RESOURCES)[number]}_${(typeof PSI_LINES)[number]}_${(typeof PSI_FIELDS)[number]}`;
/** All 24 PSI columns in their canonical order (the order the writer uses), as rows hold them. */
export const PSI_COLUMNS: readonly PsiColumn[] = PSI_RESOURCES.flatMap((r) =>
  PSI_LINES.flatMap((l) => PSI_FIELDS.map((f) => `${r}_${l}_${f}` as const)),
);
/** A PSI column's name in a file fgo writes: averages say their unit (`cpu_some_avg10_pct`), totals already do. */
export const psiFileColumn = (c: PsiColumn): string => (c.endsWith('_total_us') ? c : `${c}_pct`);
/** File column name (either form) → the column rows hold. */
export const PSI_BY_FILE_NAME: ReadonlyMap<string, PsiColumn> = new Map(
  PSI_COLUMNS.flatMap(
    (c) =>
      [
        [c, c],
        [psiFileColumn(c), c],
      ] as Array<[string, PsiColumn]>,
  ),
);

// PSI rows → the engine's PsiSet

const ENGINE_RESOURCE = { cpu: 'cpu', mem: 'memory', io: 'io' } as const;
/** Percent → fraction, rounded to 1e-9 so 4.28 % is 0.0428, not 0.042800000000000005. */
const fraction = (pct: number | undefined) => Math.round((pct ?? 0) * 1e7) / 1e9;

/**
 * A PSI row's values as the engine's `PsiSet`: averages from percent to fractions 0–1, `total_us`
 * unchanged, trace prefix `mem` → engine resource `memory`. A `full` line is present when the row
 * has any of its columns; an average the row lacks is 0 (no pressure seen), a lacking `total_us`
 * is left out.
 */
export function psiRowToPsiSet(values: Partial<Record<PsiColumn, number>>): PsiSet {
  const line = (r: (typeof PSI_RESOURCES)[number], l: (typeof PSI_LINES)[number]): PsiLine | undefined => {
    const v = (f: (typeof PSI_FIELDS)[number]) => values[`${r}_${l}_${f}`];
    if (PSI_FIELDS.every((f) => v(f) === undefined)) return undefined;
    const out: PsiLine = { avg10: fraction(v('avg10')), avg60: fraction(v('avg60')), avg300: fraction(v('avg300')) };
    const total = v('total_us');
    if (total !== undefined) out.total_us = total;
    return out;
  };
  const set = {} as PsiSet;
  for (const r of PSI_RESOURCES) {
    const some = line(r, 'some') ?? { avg10: 0, avg60: 0, avg300: 0 };
    const full = line(r, 'full');
    const reading: PsiReading = full ? { some, full } : { some };
    set[ENGINE_RESOURCE[r]] = reading;
  }
  return set;
}
