/**
 * Row validation of the trace formats, one Validator per kind shared by its reader and its writer:
 * a reader checks every row strictly and completely, with located problems and `skipBad` as
 * csv.ts describes; a writer checks the rows it is given with the same rules before it writes the
 * file atomically, so what is written always reads back.
 */
import { writeFileAtomic } from './files.ts';
import { csvField, scanRows, type CsvRecord, type Fields, type SkippedRow } from './csv.ts';

export interface ReadOptions {
  /** Leave bad rows out (listed in `skipped`) instead of failing on them. Header problems always fail. */
  skipBad?: boolean;
}

export interface Validator<R> {
  /** Parse and check one record; undefined means it was bad (issues recorded in `f`). */
  row(f: Fields, rec: CsvRecord): R | undefined;
}

export function validate<R>(
  file: string,
  header: readonly string[],
  index: ReadonlyMap<string, number>,
  records: readonly CsvRecord[],
  broken: readonly { line: number; what: string }[],
  v: Validator<R>,
  skipBad: boolean,
): { rows: R[]; skipped: SkippedRow[] } {
  const rows: R[] = [];
  const skipped = scanRows(file, header, index, records, broken, skipBad, (f, rec) => {
    const r = v.row(f, rec);
    if (r !== undefined && f.issues.length === 0) rows.push(r);
  });
  return { rows, skipped };
}

export function writeChecked<R>(
  file: string,
  header: readonly string[],
  rows: readonly R[],
  fields: (r: R) => string[],
  v: Validator<R>,
): void {
  const records = rows.map((r, i) => ({ line: i + 2, fields: fields(r) }));
  const index = new Map(header.map((c, i) => [c, i]));
  validate(file, header, index, records, [], v, false); // throws on a row that would not read back
  const text = [header, ...records.map((r) => r.fields)].map((f) => f.map(csvField).join(',')).join('\n');
  writeFileAtomic(file, `${text}\n`);
}

/** A number as a field: JavaScript's shortest round-tripping form, so it reads back exactly. */
export const num = (n: number) => String(n);
