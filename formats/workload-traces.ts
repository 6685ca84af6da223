/**
 * The two workload trace formats of docs/formats.md ("Traces"), read and written:
 *
 * - demand trace  `t_s,profile,count`: `count` arrivals of `profile` in the interval starting at `t_s`;
 * - request trace `t_ms,profile,cpu_ms,mem_mb,priority,io`: one row per request.
 *
 * Rows must be in time order (ties allowed); a demand trace may not repeat a profile at one `t_s`.
 * Validation and writing as trace-rows.ts describes.
 */
import { DEMAND_COLUMNS, fixedHeader, loadTrace, REQUEST_COLUMNS } from './trace-header.ts';
import { num, validate, writeChecked, type ReadOptions, type Validator } from './trace-rows.ts';
import { TimeOrder, type SkippedRow } from './csv.ts';

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

export function readDemandTrace(file: string, opts: ReadOptions = {}): DemandTrace {
  const { header, rows, broken } = loadTrace(file, 'demand');
  const index = fixedHeader(file, header, 'demand', DEMAND_COLUMNS);
  return {
    kind: 'demand',
    ...validate(file, header.fields, index, rows, broken, demandValidator(), opts.skipBad === true),
  };
}

export function readRequestTrace(file: string, opts: ReadOptions = {}): RequestTrace {
  const { header, rows, broken } = loadTrace(file, 'request');
  const index = fixedHeader(file, header, 'request', REQUEST_COLUMNS);
  return {
    kind: 'request',
    ...validate(file, header.fields, index, rows, broken, requestValidator(), opts.skipBad === true),
  };
}

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
