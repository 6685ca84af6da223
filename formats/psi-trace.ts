/**
 * The PSI trace format of docs/formats.md ("Traces"), read and written: `t_ms` then any of
 * `{cpu,mem,io}_{some,full}_{avg10_pct,avg60_pct,avg300_pct,total_us}` (averages in percent, as
 * the kernel prints them), optional `node`; other columns are kept as text in `extra` and
 * otherwise ignored. Files written before the averages' names carried their unit say `avg10` for
 * `avg10_pct` (the kernel's own field names; still percent): recordings of that form exist
 * (traces/psi/), so both are read. Units: docs/formats.md "Units and names".
 *
 * Rows must be in time order (ties allowed) and may not repeat a node at one `t_ms`. Validation
 * and writing as trace-rows.ts describes.
 */
import { InputError } from './errors.ts';
import { PSI_BY_FILE_NAME, PSI_COLUMNS, psiFileColumn, type PsiColumn } from './psi-columns.ts';
import { loadTrace } from './trace-header.ts';
import { num, validate, writeChecked, type ReadOptions, type Validator } from './trace-rows.ts';
import { headerError, indexHeader, TimeOrder, type CsvRecord, type SkippedRow } from './csv.ts';

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

export interface PsiTrace {
  kind: 'psi';
  rows: PsiRow[];
  skipped: SkippedRow[];
  /** The PSI columns the file has, in canonical order. */
  columns: PsiColumn[];
  /** The other columns, in file order (kept in each row's `extra`). */
  extraColumns: string[];
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

export function readPsiTrace(file: string, opts: ReadOptions = {}): PsiTrace {
  const { header, rows, broken } = loadTrace(file, 'psi');
  const h = psiHeader(file, header);
  const v = psiValidator(h.columns, h.names, h.extraColumns, h.hasNode);
  return {
    kind: 'psi',
    ...validate(file, header.fields, h.index, rows, broken, v, opts.skipBad === true),
    columns: h.columns,
    extraColumns: h.extraColumns,
  };
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
