/**
 * The header row of a trace file (docs/formats.md "Traces"): which of the three kinds it names,
 * the fixed columns of demand and request traces, and loading a file as the kind a reader expects,
 * so a demand file given where a request trace belongs is refused by its header, not row by row.
 * workload-traces.ts and psi-trace.ts read through it; traces.ts tells any trace's kind with it.
 */
import { InputError } from './errors.ts';
import { PSI_BY_FILE_NAME } from './psi-columns.ts';
import { headerError, indexHeader, readCsv, readCsvHead, type CsvRecord } from './csv.ts';

export type TraceKind = 'demand' | 'request' | 'psi';

export const DEMAND_COLUMNS = ['t_s', 'profile', 'count'] as const;
export const REQUEST_COLUMNS = ['t_ms', 'profile', 'cpu_ms', 'mem_mb', 'priority', 'io'] as const;

const EXPECTED_HEADERS =
  `a demand trace "${DEMAND_COLUMNS.join(',')}", a request trace "${REQUEST_COLUMNS.join(',')}" ` +
  'or a PSI trace "t_ms" plus any of {cpu,mem,io}_{some,full}_{avg10_pct,avg60_pct,avg300_pct,total_us} and an optional "node" ' +
  '(e.g. "t_ms,cpu_some_avg10_pct,mem_full_avg10_pct")';

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
export function fixedHeader(
  file: string,
  h: CsvRecord,
  kind: TraceKind,
  columns: readonly string[],
): Map<string, number> {
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

/** The records of a file whose header names a `want` trace: the header, the data rows, the unparsable lines. */
export function loadTrace(file: string, want: TraceKind) {
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
