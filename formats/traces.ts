/**
 * The three trace formats of docs/formats.md ("Traces"), read and written in one place so the
 * twin, the importers and the live recorder agree on them:
 *
 * - demand trace  `t_s,profile,count`: `count` arrivals of `profile` in the interval starting at `t_s`;
 * - request trace `t_ms,profile,cpu_ms,mem_mb,priority,io`: one row per request;
 * - PSI trace     `t_ms` then any of `{cpu,mem,io}_{some,full}_{avg10_pct,avg60_pct,avg300_pct,total_us}`
 *   (averages in percent, as the kernel prints them), optional `node`; other columns are kept as
 *   text in `extra` and otherwise ignored. Files written before the averages' names carried their
 *   unit say `avg10` for `avg10_pct` (the kernel's own field names; still percent): recordings of
 *   that form exist (traces/psi/), so both are read. Units: docs/formats.md "Units and names".
 *
 * Validation is strict and complete, with located problems and `skipBad` as csv.ts describes.
 * Rows must be in time order (ties allowed); a demand trace may not repeat a profile at one `t_s`,
 * a PSI trace may not repeat a node at one `t_ms`.
 *
 * Writers validate the rows with the same rules, then write the file atomically, so what is
 * written always reads back.
 */
import { InputError } from './errors.ts';
import { writeFileAtomic } from './files.ts';
import { PSI_BY_FILE_NAME, PSI_COLUMNS, psiFileColumn, type PsiColumn } from './psi-columns.ts';
import {
  csvField,
  headerError,
  indexHeader,
  readCsv,
  readCsvHead,
  scanRows,
  TimeOrder,
  type CsvRecord,
  type Fields,
  type SkippedRow,
} from './csv.ts';

// ---------------------------------------------------------------------------------------------
// Row types

export type TraceKind = 'demand' | 'request' | 'psi';

export interface DemandRow {
  t_s: number;
  profile: string;
  count: number;
}

export interface RequestRow {
  t_ms: number;
  profile: string;
  cpu_ms: number;
  mem_mb: number;
  priority: 0 | 1 | 2 | 3;
  io: boolean;
}

export interface PsiRow {
  t_ms: number;
  /** NUMA node the sample belongs to; absent: system-wide. */
  node?: number;
  /**
   * Averages in percent (0–100) as the kernel prints them, keyed by the kernel's field names (a
   * file's `cpu_some_avg10_pct` is `cpu_some_avg10` here); `*_total_us` in microseconds.
   */
  values: Partial<Record<PsiColumn, number>>;
  /** Text of the columns that are not part of the format (e.g. `phase`), when there are any. */
  extra?: Record<string, string>;
}

export interface ReadOptions {
  /** Leave bad rows out (listed in `skipped`) instead of failing on them. Header problems always fail. */
  skipBad?: boolean;
}

export interface DemandTrace {
  kind: 'demand';
  rows: DemandRow[];
  skipped: SkippedRow[];
}

export interface RequestTrace {
  kind: 'request';
  rows: RequestRow[];
  skipped: SkippedRow[];
}

export interface PsiTrace {
  kind: 'psi';
  rows: PsiRow[];
  skipped: SkippedRow[];
  /** The PSI columns the file has, in canonical order. */
  columns: PsiColumn[];
  /** The other columns, in file order (kept in each row's `extra`). */
  extraColumns: string[];
}

export type Trace = DemandTrace | RequestTrace | PsiTrace;

export const DEMAND_COLUMNS = ['t_s', 'profile', 'count'] as const;
export const REQUEST_COLUMNS = ['t_ms', 'profile', 'cpu_ms', 'mem_mb', 'priority', 'io'] as const;

const EXPECTED_HEADERS =
  `a demand trace "${DEMAND_COLUMNS.join(',')}", a request trace "${REQUEST_COLUMNS.join(',')}" ` +
  'or a PSI trace "t_ms" plus any of {cpu,mem,io}_{some,full}_{avg10_pct,avg60_pct,avg300_pct,total_us} and an optional "node" ' +
  '(e.g. "t_ms,cpu_some_avg10_pct,mem_full_avg10_pct")';

// ---------------------------------------------------------------------------------------------
// Headers and kinds

/** A header for a message: at most 80 characters. */
function shortHeader(header: readonly string[]): string {
  const h = header.join(',');
  return h.length > 80 ? `${h.slice(0, 79)}…` : h;
}

function headerOf(file: string, records: readonly CsvRecord[]): CsvRecord {
  const h = records[0];
  if (!h) throw new InputError([`${file}:1:1: empty file: expected a header, ${EXPECTED_HEADERS}`]);
  return h;
}

function kindOfHeader(file: string, h: CsvRecord): TraceKind {
  const header = h.fields;
  const has = (c: string) => header.includes(c);
  if (has('t_s')) return 'demand';
  if (has('t_ms') && REQUEST_COLUMNS.slice(1).some(has)) return 'request';
  if (has('t_ms') && header.some((c) => PSI_BY_FILE_NAME.has(c))) return 'psi';
  return headerError(
    file,
    h.line,
    1,
    `not a trace: the header "${shortHeader(header)}" is none of: ${EXPECTED_HEADERS}`,
  );
}

/** The kind of trace a file holds, decided by its header row alone. */
export function traceKind(file: string): TraceKind {
  return kindOfHeader(file, headerOf(file, readCsvHead(file)));
}

/** The header of a file of a fixed set of columns (in any order): nothing missing, nothing unknown. */
function fixedHeader(file: string, h: CsvRecord, kind: TraceKind, columns: readonly string[]): Map<string, number> {
  const index = indexHeader(file, h);
  const problems: string[] = [];
  h.fields.forEach((c, i) => {
    if (!columns.includes(c))
      problems.push(
        `${file}:${h.line}:${i + 1}: unknown column ${c} in a ${kind} trace (expected ${columns.join(',')})`,
      );
  });
  for (const c of columns)
    if (!index.has(c))
      problems.push(`${file}:${h.line}:1: missing column ${c} (a ${kind} trace has ${columns.join(',')})`);
  if (problems.length) throw new InputError(problems);
  return index;
}

function load(file: string, want: TraceKind) {
  const { records, broken } = readCsv(file);
  const header = headerOf(file, records);
  const kind = kindOfHeader(file, header);
  if (kind !== want)
    headerError(
      file,
      header.line,
      1,
      `this is a ${kind} trace (header "${shortHeader(header.fields)}"), not a ${want} trace`,
    );
  return { header, rows: records.slice(1), broken };
}

// ---------------------------------------------------------------------------------------------
// Row validation, shared by readers and writers

interface Validator<R> {
  /** Parse and check one record; undefined means it was bad (issues recorded in `f`). */
  row(f: Fields, rec: CsvRecord): R | undefined;
}

function validate<R>(
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

function demandValidator(): Validator<DemandRow> {
  const order = new TimeOrder();
  let sameTime = new Map<string, number>(); // profile → line, for rows at order.last
  return {
    row(f, rec) {
      const t_s = f.number('t_s', { min: 0 });
      const profile = f.name('profile');
      const count = f.number('count', { min: 0, integer: true });
      order.check(f, 't_s', t_s);
      const dup = t_s === order.last ? sameTime.get(profile) : undefined;
      if (dup !== undefined && profile !== '')
        f.fail('profile', `profile ${profile} appears twice at t_s ${t_s} (first on line ${dup})`);
      if (f.issues.length) return undefined;
      if (t_s !== order.last) sameTime = new Map();
      sameTime.set(profile, rec.line);
      order.accept(t_s, rec.line);
      return { t_s, profile, count };
    },
  };
}

function requestValidator(): Validator<RequestRow> {
  const order = new TimeOrder();
  return {
    row(f, rec) {
      const t_ms = f.number('t_ms', { min: 0 });
      const profile = f.name('profile');
      const cpu_ms = f.number('cpu_ms', { min: 0 });
      const mem_mb = f.number('mem_mb', { min: 0 });
      const p = f.text('priority');
      if (!/^[0-3]$/.test(p)) f.fail('priority', `must be 0, 1, 2 or 3, got "${p}"`);
      const iot = f.text('io').toLowerCase();
      if (!['0', '1', 'true', 'false'].includes(iot))
        f.fail('io', `must be 0, 1, true or false, got "${f.text('io')}"`);
      order.check(f, 't_ms', t_ms);
      if (f.issues.length) return undefined;
      order.accept(t_ms, rec.line);
      return { t_ms, profile, cpu_ms, mem_mb, priority: Number(p) as 0 | 1 | 2 | 3, io: iot === '1' || iot === 'true' };
    },
  };
}

/** `names`: each PSI column's name in the file (either form), so problems name the file's column. */
function psiValidator(
  columns: readonly PsiColumn[],
  names: ReadonlyMap<PsiColumn, string>,
  extraColumns: readonly string[],
  hasNode: boolean,
): Validator<PsiRow> {
  const order = new TimeOrder();
  let sameTime = new Map<string, number>(); // node ('' system-wide) → line, for rows at order.last
  return {
    row(f, rec) {
      const t_ms = f.number('t_ms', { min: 0 });
      const node = hasNode ? f.optionalNumber('node', { min: 0, integer: true }) : undefined;
      const values: Partial<Record<PsiColumn, number>> = {};
      for (const c of columns) {
        const name = names.get(c) as string;
        const v = c.endsWith('_total_us')
          ? f.optionalNumber(name, { min: 0 })
          : f.optionalNumber(name, { min: 0, max: 100 });
        if (v !== undefined && !Number.isNaN(v)) values[c] = v;
      }
      order.check(f, 't_ms', t_ms);
      const key = node === undefined ? '' : String(node);
      const dup = t_ms === order.last && !Number.isNaN(node) ? sameTime.get(key) : undefined;
      if (dup !== undefined)
        f.fail(
          hasNode ? 'node' : 't_ms',
          `a second sample for ${node === undefined ? 'the system' : `node ${node}`} at t_ms ${t_ms} (first on line ${dup})`,
        );
      if (f.issues.length) return undefined;
      if (t_ms !== order.last) sameTime = new Map();
      sameTime.set(key, rec.line);
      order.accept(t_ms, rec.line);
      const row: PsiRow = { t_ms, values };
      if (node !== undefined) row.node = node;
      if (extraColumns.length) row.extra = Object.fromEntries(extraColumns.map((c) => [c, f.text(c)]));
      return row;
    },
  };
}

function psiHeader(file: string, h: CsvRecord) {
  const header = h.fields;
  const index = indexHeader(file, h);
  if (!index.has('t_ms')) headerError(file, h.line, 1, 'missing column t_ms (a PSI trace starts with t_ms)');
  const names = new Map<PsiColumn, string>();
  header.forEach((name, i) => {
    const c = PSI_BY_FILE_NAME.get(name);
    if (c === undefined) return;
    const other = names.get(c);
    if (other !== undefined)
      headerError(
        file,
        h.line,
        i + 1,
        `columns ${other} and ${name} are the same figure (percent; ${c} is the older name)`,
      );
    names.set(c, name);
  });
  const columns = PSI_COLUMNS.filter((c) => names.has(c));
  const extraColumns = header.filter((c) => c !== 't_ms' && c !== 'node' && !PSI_BY_FILE_NAME.has(c));
  return { index, columns, names, extraColumns, hasNode: index.has('node') };
}

// ---------------------------------------------------------------------------------------------
// Readers

export function readDemandTrace(file: string, opts: ReadOptions = {}): DemandTrace {
  const { header, rows, broken } = load(file, 'demand');
  const index = fixedHeader(file, header, 'demand', DEMAND_COLUMNS);
  return {
    kind: 'demand',
    ...validate(file, header.fields, index, rows, broken, demandValidator(), opts.skipBad === true),
  };
}

export function readRequestTrace(file: string, opts: ReadOptions = {}): RequestTrace {
  const { header, rows, broken } = load(file, 'request');
  const index = fixedHeader(file, header, 'request', REQUEST_COLUMNS);
  return {
    kind: 'request',
    ...validate(file, header.fields, index, rows, broken, requestValidator(), opts.skipBad === true),
  };
}

export function readPsiTrace(file: string, opts: ReadOptions = {}): PsiTrace {
  const { header, rows, broken } = load(file, 'psi');
  const h = psiHeader(file, header);
  const v = psiValidator(h.columns, h.names, h.extraColumns, h.hasNode);
  return {
    kind: 'psi',
    ...validate(file, header.fields, h.index, rows, broken, v, opts.skipBad === true),
    columns: h.columns,
    extraColumns: h.extraColumns,
  };
}

/** Any trace, its kind decided by the header. */
export function readTrace(file: string, opts: ReadOptions = {}): Trace {
  const kind = traceKind(file);
  return kind === 'demand'
    ? readDemandTrace(file, opts)
    : kind === 'request'
      ? readRequestTrace(file, opts)
      : readPsiTrace(file, opts);
}

// ---------------------------------------------------------------------------------------------
// Writers

function writeChecked<R>(
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

const num = (n: number) => String(n);

export function writeDemandTrace(file: string, rows: readonly DemandRow[]): void {
  writeChecked(file, DEMAND_COLUMNS, rows, (r) => [num(r.t_s), r.profile, num(r.count)], demandValidator());
}

export function writeRequestTrace(file: string, rows: readonly RequestRow[]): void {
  writeChecked(
    file,
    REQUEST_COLUMNS,
    rows,
    (r) => [num(r.t_ms), r.profile, num(r.cpu_ms), num(r.mem_mb), num(r.priority), r.io ? '1' : '0'],
    requestValidator(),
  );
}

/**
 * Columns: `t_ms`, `node` if any row has one, the PSI columns any row has (canonical order), then
 * the `extra` columns in order of first appearance. A value a row lacks is an empty field.
 */
export function writePsiTrace(file: string, rows: readonly PsiRow[]): void {
  const hasNode = rows.some((r) => r.node !== undefined);
  const columns = PSI_COLUMNS.filter((c) => rows.some((r) => r.values[c] !== undefined));
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const clash = extra.find((c) => c === 't_ms' || c === 'node' || PSI_BY_FILE_NAME.has(c));
  if (clash) throw new InputError([`${file}: extra column ${clash} would clash with a PSI trace column`]);
  const names = new Map(columns.map((c) => [c, psiFileColumn(c)]));
  const header = ['t_ms', ...(hasNode ? ['node'] : []), ...columns.map(psiFileColumn), ...extra];
  const fields = (r: PsiRow) => [
    num(r.t_ms),
    ...(hasNode ? [r.node === undefined ? '' : num(r.node)] : []),
    ...columns.map((c) => (r.values[c] === undefined ? '' : num(r.values[c] as number))),
    ...extra.map((c) => r.extra?.[c] ?? ''),
  ];
  writeChecked(file, header, rows, fields, psiValidator(columns, names, extra, hasNode));
}

// ---------------------------------------------------------------------------------------------
// Summaries

export interface TraceSummary {
  kind: TraceKind;
  rows: number;
  skipped: number;
  /** Distinct profiles (demand, request). */
  profiles?: number;
  /** First and last time, in the trace's own unit (`t_s` or `t_ms`); absent for an empty trace. */
  t_first?: number;
  t_last?: number;
  unit: 's' | 'ms';
  span_s: number;
  /** Sum of `count` (demand). */
  total_count?: number;
  /** Sum of `cpu_ms` (request). */
  total_cpu_ms?: number;
  /** Nodes of a PSI trace; 'all' for system-wide rows. */
  nodes?: (number | 'all')[];
  psi_columns?: number;
  extra_columns?: string[];
}

export function summarizeTrace(t: Trace): TraceSummary {
  const times = t.kind === 'demand' ? t.rows.map((r) => r.t_s) : t.rows.map((r) => r.t_ms);
  const unit = t.kind === 'demand' ? 's' : 'ms';
  const first = times[0];
  const last = times.at(-1);
  const s: TraceSummary = { kind: t.kind, rows: t.rows.length, skipped: t.skipped.length, unit, span_s: 0 };
  if (first !== undefined && last !== undefined) {
    s.t_first = first;
    s.t_last = last;
    s.span_s = unit === 's' ? last - first : (last - first) / 1000;
  }
  if (t.kind === 'demand') {
    s.profiles = new Set(t.rows.map((r) => r.profile)).size;
    s.total_count = t.rows.reduce((a, r) => a + r.count, 0);
  } else if (t.kind === 'request') {
    s.profiles = new Set(t.rows.map((r) => r.profile)).size;
    s.total_cpu_ms = Math.round(t.rows.reduce((a, r) => a + r.cpu_ms, 0) * 1000) / 1000;
  } else {
    s.nodes = [...new Set(t.rows.map((r) => r.node ?? ('all' as const)))];
    s.psi_columns = t.columns.length;
    s.extra_columns = t.extraColumns;
  }
  return s;
}
