/**
 * Alibaba cluster-trace-v2018 `machine_usage` (no header) as a demand trace: one profile per
 * machine, CPU utilization as a load proxy. Its own file because the trace has its own quirks —
 * marker values (-1, 101, time_stamp 0), repeated samples — and an optional utilization summary.
 */
import { readCsv, scanRows, type CsvRecord } from '../csv.ts';
import type { DemandImport, ImportOptions } from './types.ts';
import type { DemandRow } from '../workload-traces.ts';
import { gaps, maxOf, minOf, plural, prefixed } from './common.ts';

const ALIBABA_COLUMNS = [
  'machine_id',
  'time_stamp',
  'cpu_util_percent',
  'mem_util_percent',
  'mem_gps',
  'mkpi',
  'net_in',
  'net_out',
  'disk_io_percent',
] as const;

interface Sample {
  machine: string;
  ts: number;
  cpu: number;
  mem?: number;
  disk?: number;
  line: number;
}

export function importAlibaba(file: string, opts: ImportOptions): DemandImport {
  const { records, broken } = readCsv(file);
  const notes: string[] = [];
  let data: CsvRecord[] = records;
  if (records[0]?.fields[0] === 'machine_id') {
    data = records.slice(1); // the trace has no header, but a hand-made copy may
    notes.push('line 1 is a header and was passed over (the trace itself has none)');
  }
  const index = new Map<string, number>(ALIBABA_COLUMNS.map((c, i) => [c, i]));
  const samples: Sample[] = [];
  const at = new Map<string, number>(); // machine \0 time_stamp → index in samples
  let duplicates = 0;
  let firstDuplicate = 0;
  const skipped = scanRows(file, ALIBABA_COLUMNS, index, data, broken, opts.skipBad === true, (f, rec) => {
    const machine = f.name('machine_id');
    const ts = f.number('time_stamp', { min: 0, integer: true });
    if (ts === 0) f.fail('time_stamp', "0 marks a sample outside the trace's 8-day window");
    const cpuText = f.text('cpu_util_percent');
    const marker = cpuText === '-1' || cpuText === '101';
    if (marker) f.fail('cpu_util_percent', `${cpuText} marks an invalid value in this trace`);
    const cpu = marker ? NaN : f.number('cpu_util_percent', { min: 0, max: 100 });
    const mem = f.optionalNumber('mem_util_percent');
    for (const c of ['mem_gps', 'mkpi', 'net_in', 'net_out'] as const) f.optionalNumber(c);
    const disk = f.optionalNumber('disk_io_percent');
    if (f.issues.length) return;
    const s: Sample = { machine, ts, cpu, line: rec.line };
    if (mem !== undefined) s.mem = mem;
    if (disk !== undefined) s.disk = disk;
    const key = `${machine}\u0000${ts}`;
    const prev = at.get(key);
    if (prev === undefined) {
      at.set(key, samples.length);
      samples.push(s);
    } else {
      samples[prev] = s; // keep the last
      if (duplicates++ === 0) firstDuplicate = rec.line;
    }
  });

  const t0 = minOf(samples.map((s) => s.ts));
  const name = (m: string) => prefixed(opts, m);
  const rows: DemandRow[] = samples
    .map((s) => ({ t_s: s.ts - t0, profile: name(s.machine), count: Math.round(s.cpu) }))
    .sort((a, b) => a.t_s - b.t_s || (a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : 0));

  notes.push(
    "count = round(cpu_util_percent): the machine's CPU utilization in percent as a load proxy, not arrivals; each row stands for the interval up to the machine's next sample",
    `t_s = time_stamp − ${t0} (the earliest sample in the file); rows sorted by t_s, then machine`,
  );
  if (duplicates)
    notes.push(
      `${plural(duplicates, 'repeated sample')} (same machine and time_stamp, first on line ${firstDuplicate}): the last row of each was kept`,
    );
  const byMachine = new Map<string, Sample[]>();
  for (const s of samples) {
    const l = byMachine.get(s.machine) ?? [];
    if (!l.length) byMachine.set(s.machine, l);
    l.push(s);
  }
  for (const [m, l] of byMachine) {
    l.sort((a, b) => a.ts - b.ts);
    const g = gaps(l.map((s) => s.ts));
    notes.push(
      `${name(m)}: ${plural(l.length, 'sample')}, t_s ${(l[0] as Sample).ts - t0}–${(l.at(-1) as Sample).ts - t0}, interval ${g.common} s (most common), longest gap ${g.longest} s`,
    );
    if (opts.utilNote) {
      const stat = (xs: number[]) => {
        const ok = xs.filter((x) => x >= 0 && x <= 100);
        const mean = ok.length ? ok.reduce((a, x) => a + x, 0) / ok.length : NaN;
        return `${ok.length ? `mean ${mean.toFixed(1)} %, max ${maxOf(ok)} %` : 'no values'}${xs.length > ok.length ? ` (${xs.length - ok.length} outside 0–100 ignored)` : ''}`;
      };
      notes.push(
        `${name(m)} utilization (the trace has no pressure stall data, only utilization): cpu ${stat(l.map((s) => s.cpu))}; memory ${stat(l.flatMap((s) => (s.mem === undefined ? [] : [s.mem])))}; disk io ${stat(l.flatMap((s) => (s.disk === undefined ? [] : [s.disk])))}`,
      );
    }
  }
  return { kind: 'demand', rows, skipped, notes };
}
