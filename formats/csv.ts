/**
 * The CSV machinery under every trace file fgo reads or writes — the three trace formats
 * (traces.ts and the files it names) and the public formats the importers take (importers.ts) — so they all report
 * problems alike:
 *
 * - every bad row is reported as `file:line:col: column NAME: what` (line and column 1-based; the
 *   column is the field's number in the row), all of them at once, capped at MAX_PROBLEMS;
 * - with `skipBad` bad rows are left out and listed as SkippedRows instead; nothing is dropped
 *   without a trace. Header problems are never skippable;
 * - blank lines carry no data and are passed over; blanks around a field are ignored (inside
 *   quotes they are kept); a record the CSV parser cannot read is a problem of its line.
 *
 * Inputs are bounded before they are parsed: a regular file of at most MAX_CSV_BYTES, at most
 * MAX_CSV_LINES lines, each record at most MAX_CSV_RECORD_BYTES.
 */
import { closeSync, readSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { InputError } from './errors.ts';
import { MAX_CSV_BYTES, openInput, readInputText } from './inputs.ts';

// ---------------------------------------------------------------------------------------------
// Reading records

/** One CSV record and the 1-based line it ends on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** Most lines a CSV input may have (the largest bundled trace has about 16,000). */
export const MAX_CSV_LINES = 5_000_000;
/** Longest record (one line, or several inside quotes), in characters: public traces' widest rows are a few KB. */
export const MAX_CSV_RECORD_BYTES = 1024 * 1024;

/** The text of a CSV file, refused before parsing if it has more than MAX_CSV_LINES lines. */
function readText(file: string): string {
  const text = readInputText(file, MAX_CSV_BYTES, 'CSV input');
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (++lines > MAX_CSV_LINES)
      throw new InputError([`${file}: more than ${MAX_CSV_LINES} lines, the limit for a CSV input; split it`]);
  }
  return text;
}

/**
 * Every record of a CSV text with its line number. Blank lines are passed over; a record the CSV
 * parser cannot read (an unclosed quote, a stray quote) comes back in `broken`.
 */
function parseCsv(text: string): { records: CsvRecord[]; broken: { line: number; what: string }[] } {
  const broken: { line: number; what: string }[] = [];
  const out = parse(text, {
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_CSV_RECORD_BYTES,
    skip_records_with_error: true,
    trim: true, // blanks around a field, not inside quotes
    on_skip: (err: { lines?: number; message: string } | undefined) => {
      if (err) broken.push({ line: err.lines ?? 0, what: `invalid CSV: ${err.message}` });
    },
  }) as unknown as { record: string[]; info: { lines: number } }[];
  const records: CsvRecord[] = [];
  for (const { record, info } of out) {
    if (record.length === 1 && record[0] === '') continue; // a line of blanks
    records.push({ line: info.lines, fields: record });
  }
  return { records, broken };
}

/** `parseCsv` of a file; a file that cannot be read is an InputError naming it. */
export function readCsv(file: string): { records: CsvRecord[]; broken: { line: number; what: string }[] } {
  return parseCsv(readText(file));
}

/** The records of a file's start, up to its first non-blank line: a header, without reading the whole file. */
export function readCsvHead(file: string): CsvRecord[] {
  return parseCsv(firstLines(file)).records;
}

/**
 * The start of a file, up to the first non-blank line's end (read in 64 KiB steps, not whole);
 * a start of blanks and one line longer than MAX_CSV_RECORD_BYTES is refused.
 */
function firstLines(file: string): string {
  const { fd } = openInput(file, MAX_CSV_BYTES, 'CSV input');
  try {
    const buf = Buffer.alloc(65536);
    let text = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      text += buf.toString('utf8', 0, n);
      const m = /\S[^\n]*\n/.exec(text);
      if (m || n === 0) return m ? text.slice(0, m.index + m[0].length) : text;
      if (text.length > MAX_CSV_RECORD_BYTES)
        throw new InputError([
          `${file}:1:1: no line end in the first ${MAX_CSV_RECORD_BYTES} bytes: the header is longer than a CSV record may be`,
        ]);
    }
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Problem reports

/** A row left out by `skipBad`: its line, the column of its first problem, and every problem. */
export interface SkippedRow {
  line: number;
  col: number;
  reason: string;
}

/** One problem of one row: the field's 1-based column number, its column name if it has one, and what is wrong. */
export interface Issue {
  col: number;
  column?: string;
  what: string;
}

/** At most this many problems are listed; the rest are counted in a final "… and N more" line. */
export const MAX_PROBLEMS = 50;

const issueText = (i: Issue) => (i.column !== undefined ? `column ${i.column}: ${i.what}` : i.what);

/** `problems` cut to `max` lines plus a final "… and N more problems". */
export function capProblems(problems: readonly string[], total = problems.length, max = MAX_PROBLEMS): string[] {
  return total > max ? [...problems.slice(0, max), `… and ${total - max} more problems`] : [...problems];
}

/**
 * Collects the problems of a file's rows: each is either skipped (with `skipBad`) or kept as a
 * located problem for the InputError thrown by `finish()`.
 */
class RowProblems {
  readonly skipped: SkippedRow[] = [];
  private readonly problems: string[] = [];
  private total = 0;

  constructor(
    readonly file: string,
    readonly skipBad: boolean,
  ) {}

  /** Report a bad row (no issues: nothing to report). */
  row(line: number, unsorted: readonly Issue[]): void {
    if (unsorted.length === 0) return;
    const issues = [...unsorted].sort((a, b) => a.col - b.col); // stable: a column's issues keep their order
    if (this.skipBad) {
      this.skipped.push({ line, col: (issues[0] as Issue).col, reason: issues.map(issueText).join('; ') });
    } else {
      for (const i of issues) {
        if (this.problems.length < MAX_PROBLEMS) this.problems.push(`${this.file}:${line}:${i.col}: ${issueText(i)}`);
        this.total++;
      }
    }
  }

  /** A CSV syntax error: like a bad row, without a column name. */
  broken(b: { line: number; what: string }): void {
    this.row(b.line, [{ col: 1, what: b.what }]);
  }

  /** Throws an InputError listing every problem (capped) if any row was bad and not skipped. */
  finish(): void {
    if (this.total > 0) throw new InputError(capProblems(this.problems, this.total));
  }
}

/** Header problems are never skippable: throw them at once. */
export function headerError(file: string, line: number, col: number, what: string): never {
  throw new InputError([`${file}:${line}:${col}: ${what}`]);
}

// ---------------------------------------------------------------------------------------------
// Field parsing

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a field holds, or undefined if it is not a plain finite decimal number. */
function parseNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The fields of one record, addressed by column name, recording an Issue for every field that
 * does not parse. Each getter returns NaN (or '') on failure, so a row can be checked through and
 * all its problems reported together.
 */
export class Fields {
  readonly issues: Issue[] = [];

  constructor(
    private readonly rec: CsvRecord,
    private readonly index: ReadonlyMap<string, number>,
  ) {}

  col(name: string): number {
    return (this.index.get(name) as number) + 1;
  }

  fail(name: string, what: string): void {
    this.issues.push({ col: this.col(name), column: name, what });
  }

  text(name: string): string {
    return this.rec.fields[this.index.get(name) as number] ?? '';
  }

  /** A non-empty text (e.g. a profile name). */
  name(name: string): string {
    const t = this.text(name);
    if (t === '') this.fail(name, 'is empty');
    return t;
  }

  /** A number within [min, max]; `integer` asks for a whole number. */
  number(name: string, o: { min?: number; max?: number; integer?: boolean } = {}): number {
    const t = this.text(name);
    const bad = (what: string) => {
      this.fail(name, what);
      return NaN;
    };
    if (t === '') return bad('is empty');
    const n = parseNumber(t);
    if (n === undefined) return bad(`not a number: "${t}"`);
    if (o.integer && !Number.isInteger(n)) return bad(`must be a whole number, got ${t}`);
    if (o.min !== undefined && n < o.min)
      return bad(o.min === 0 ? `must not be negative, got ${t}` : `must be at least ${o.min}, got ${t}`);
    if (o.max !== undefined && n > o.max) return bad(`must be at most ${o.max}, got ${t}`);
    return n;
  }

  /** Like `number`, but an empty field is absent (undefined) rather than a problem. */
  optionalNumber(name: string, o: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    return this.text(name) === '' ? undefined : this.number(name, o);
  }
}

/** A record's field count must match the header's; the issue points at the first missing or extra field. */
function fieldCountIssue(rec: CsvRecord, expected: number, names?: readonly string[]): Issue | undefined {
  const n = rec.fields.length;
  if (n === expected) return undefined;
  const what = `row has ${n} field${n === 1 ? '' : 's'}, expected ${expected}${names && names.length <= 12 ? ` (${names.join(',')})` : ''}`;
  return { col: Math.min(n, expected) + 1, what };
}

/**
 * Keeps rows in time order: a row earlier than the last accepted one is a problem naming that
 * row's line. Comparing with the last accepted row (not merely the previous line) keeps the
 * output sorted even when bad rows are skipped.
 */
export class TimeOrder {
  last = -Infinity;
  lastLine = 0;
  private lastText = '';

  /** `text` is how the time reads in the file, for the message (default: the number). */
  check(f: Fields, column: string, t: number, text = String(t)): void {
    if (Number.isNaN(t) || t >= this.last) return;
    f.fail(column, `time goes backwards: ${text} is before ${this.lastText} on line ${this.lastLine}`);
  }

  accept(t: number, line: number, text = String(t)): void {
    this.last = t;
    this.lastLine = line;
    this.lastText = text;
  }
}

// ---------------------------------------------------------------------------------------------
// Headers and rows

/** Column name → 0-based index; duplicates are an error. */
export function indexHeader(file: string, h: CsvRecord): Map<string, number> {
  const index = new Map<string, number>();
  h.fields.forEach((c, i) => {
    if (c === '') headerError(file, h.line, i + 1, 'empty column name in the header');
    if (index.has(c))
      headerError(
        file,
        h.line,
        i + 1,
        `column ${c} appears twice in the header (first in column ${(index.get(c) as number) + 1})`,
      );
    index.set(c, i);
  });
  return index;
}

/**
 * Check every record against a header: the field count, then `row`, which reads the fields
 * through `f` (recording its issues) and keeps the row only when `f.issues` is empty. Bad rows go
 * to the problems (or `skipped`), CSV syntax errors in between by line; throws at the end if any
 * problem was not skipped.
 */
export function scanRows(
  file: string,
  header: readonly string[],
  index: ReadonlyMap<string, number>,
  records: readonly CsvRecord[],
  broken: readonly { line: number; what: string }[],
  skipBad: boolean,
  row: (f: Fields, rec: CsvRecord) => void,
): SkippedRow[] {
  const problems = new RowProblems(file, skipBad);
  let b = 0;
  for (const rec of records) {
    while (b < broken.length && (broken[b] as { line: number }).line < rec.line)
      problems.broken(broken[b++] as { line: number; what: string });
    const count = fieldCountIssue(rec, header.length, header);
    if (count) {
      problems.row(rec.line, [count]);
      continue;
    }
    const f = new Fields(rec, index);
    row(f, rec);
    problems.row(rec.line, f.issues);
  }
  while (b < broken.length) problems.broken(broken[b++] as { line: number; what: string });
  problems.finish();
  return problems.skipped;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A CSV field, quoted when it has to be. */
export function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
