/**
 * Importers: five public trace formats turned into fgo's demand and request traces (DESIGN.md,
 * "File formats"). Each reads its input as strictly as the trace readers do — every bad row is
 * `file:line:col: column NAME: what`, all of them at once, or with `skipBad` left out and listed
 * in `skipped` — and says in `notes` what it assumed and what it saw (gaps, duplicates, rounding).
 *
 * | format | gives | how |
 * |---|---|---|
 * | `nab` (`timestamp,value`) | demand | t_s from the first timestamp; one profile (file base name or `profile`); count = value rounded half up |
 * | `azure-functions-2019` (`HashOwner,HashApp,HashFunction,Trigger,1..1440`) | demand | t_s = (minute − 1) × 60; one profile per function (first 8 hex characters of HashFunction); minutes with 0 invocations left out |
 * | `azure-functions-2021` (`app,func,end_timestamp,duration`, seconds) | request | arrival = end − duration, t_ms from the earliest arrival, sorted; cpu_ms = duration; mem_mb `memMb` (128); priority 1 |
 * | `azure-llm` (`TIMESTAMP,ContextTokens,GeneratedTokens`) | request | t_ms from the first timestamp; profile `llm`; cpu_ms and mem_mb from tokens (cost model below); priority 1 |
 * | `alibaba-machine-usage` (v2018 `machine_usage`, no header) | demand | one profile per machine; t_s from the earliest time_stamp; count = round(cpu_util_percent) as a load proxy; a repeated (machine, time_stamp) keeps the last row |
 *
 * Timestamps (`YYYY-MM-DD HH:MM:SS[.fraction]`, no zone) are read as UTC, so daylight-saving
 * changes cannot bend the time axis; only differences are kept. Times are kept to the microsecond:
 * a request trace's `t_ms` may have three decimals.
 */
import { basename } from 'node:path';
import { InputError } from '../cli/jsonfile.ts';
import { headerError, readCsv, scanRows, TimeOrder, type CsvRecord, type Fields, type SkippedRow } from './csv.ts';
import type { DemandRow, RequestRow } from './traces.ts';

export const IMPORT_FORMATS = ['nab', 'azure-functions-2019', 'azure-functions-2021', 'azure-llm', 'alibaba-machine-usage'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportOptions {
  /** Leave bad rows out (listed in `skipped`) instead of failing. */
  skipBad?: boolean;
  /** nab, azure-llm: the profile name. Other formats: a prefix, giving `NAME-<function or machine>`. */
  profile?: string;
  /** azure-functions-2021: memory of every request, MB (default 128; the trace has none). */
  memMb?: number;
  /** azure-llm cost model: prefill CPU time per context token, ms (default 0.05). */
  llmMsPerContextToken?: number;
  /** azure-llm cost model: decode CPU time per generated token, ms (default 20). */
  llmMsPerGeneratedToken?: number;
  /** azure-llm memory model: fixed memory per request, MB (default 0). */
  llmBaseMb?: number;
  /** azure-llm memory model: KV cache per context token, MB (default 0.5). */
  llmMbPerContextToken?: number;
  /** alibaba-machine-usage: add a per-machine utilisation summary (CPU, memory, disk I/O) to the notes. */
  utilNote?: boolean;
}

/**
 * Defaults of the models. LLM: prefill ~20,000 context tokens/s and decode ~50 tokens/s on one
 * core-equivalent (0.05 ms and 20 ms per token); memory is the KV cache of a 7B-parameter fp16
 * model with full multi-head attention: 2 (K and V) × 32 layers × 4096 × 2 bytes = 0.5 MiB per
 * context token (2,048 tokens ≈ 1 GiB), rounded up to whole MB.
 */
export const IMPORT_DEFAULTS = {
  memMb: 128,
  llmMsPerContextToken: 0.05,
  llmMsPerGeneratedToken: 20,
  llmBaseMb: 0,
  llmMbPerContextToken: 0.5,
} as const;

interface Result<K, R> {
  kind: K;
  rows: R[];
  skipped: SkippedRow[];
  notes: string[];
}
export type DemandImport = Result<'demand', DemandRow>;
export type RequestImport = Result<'request', RequestRow>;
export type ImportResult = DemandImport | RequestImport;

export function importTrace(format: ImportFormat, inFile: string, opts: ImportOptions = {}): ImportResult {
  const bad = (Object.keys(IMPORT_DEFAULTS) as (keyof typeof IMPORT_DEFAULTS)[]).filter((k) => opts[k] !== undefined && !(Number.isFinite(opts[k]) && (opts[k] as number) >= 0));
  if (bad.length) throw new InputError(bad.map((k) => `option ${k}: must be a non-negative number, got ${opts[k]}`));
  if (opts.profile !== undefined && opts.profile.trim() === '') throw new InputError(['option profile: is empty']);
  switch (format) {
    case 'nab':
      return importNab(inFile, opts);
    case 'azure-functions-2019':
      return importAzure2019(inFile, opts);
    case 'azure-functions-2021':
      return importAzure2021(inFile, opts);
    case 'azure-llm':
      return importAzureLlm(inFile, opts);
    case 'alibaba-machine-usage':
      return importAlibaba(inFile, opts);
    default:
      throw new InputError([`unknown format ${String(format)}: expected one of ${IMPORT_FORMATS.join(', ')}`]);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;

/** Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.fraction]` read as UTC; undefined if not one. */
export function parseTimestampUs(text: string): number | undefined {
  const m = STAMP.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms * 1000 + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1e6) : 0);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
// Loops, not Math.min(...xs): spreading a million-row trace would overflow the stack.
const minOf = (xs: readonly number[], empty = 0) => (xs.length ? xs.reduce((a, x) => (x < a ? x : a), Infinity) : empty);
const maxOf = (xs: readonly number[], atLeast = -Infinity) => xs.reduce((a, x) => (x > a ? x : a), atLeast);

/** The data records after a header that must be exactly `columns` (in this order). */
function withHeader(file: string, format: ImportFormat, columns: readonly string[]) {
  const { records, broken } = readCsv(file);
  const h = records[0];
  if (!h) throw new InputError([`${file}:1:1: empty file: expected the header "${columns.join(',')}" of --format ${format}`]);
  if (h.fields.length !== columns.length || h.fields.some((c, i) => c !== columns[i])) {
    const i = h.fields.findIndex((c, k) => c !== columns[k]);
    headerError(file, h.line, i < 0 ? columns.length + 1 : i + 1, `expected the header "${columns.join(',')}" of --format ${format}, got "${h.fields.join(',').slice(0, 120)}"`);
  }
  return { records: records.slice(1), broken, index: new Map(columns.map((c, i) => [c, i])) };
}

/** A time column as microseconds, recording an issue when it is not a timestamp. */
function stamp(f: Fields, column: string): number {
  const t = f.text(column);
  const us = parseTimestampUs(t);
  if (us === undefined) {
    f.fail(column, t === '' ? 'is empty' : `not a timestamp YYYY-MM-DD HH:MM:SS[.fraction]: "${t}"`);
    return NaN;
  }
  return us;
}

/**
 * Short, stable profile names for hashes: the first 8 characters of a hex hash (more, for all of
 * them, if two would collide), or `fn-<n>` (n-th distinct hash, 1-based) for one that is not hex.
 */
export function shortNames(hashes: Iterable<string>): { names: Map<string, string>; length: number } {
  const distinct = [...new Set(hashes)];
  const hex = distinct.filter((h) => /^[0-9a-fA-F]{8,}$/.test(h));
  const longest = maxOf(hex.map((h) => h.length), 8);
  let length = 8;
  while (length < longest && new Set(hex.map((h) => h.slice(0, length))).size < hex.length) length++;
  const names = new Map<string, string>();
  distinct.forEach((h, i) => names.set(h, /^[0-9a-fA-F]{8,}$/.test(h) ? h.slice(0, length) : `fn-${i + 1}`));
  return { names, length };
}

const prefixed = (opts: ImportOptions, name: string) => (opts.profile !== undefined ? `${opts.profile}-${name}` : name);

/** The most common gap between consecutive times, the longest, and how many exceed the common one. */
function gaps(times: readonly number[]): { common: number; longest: number; over: number } {
  const counts = new Map<number, number>();
  let longest = 0;
  for (let i = 1; i < times.length; i++) {
    const g = (times[i] as number) - (times[i - 1] as number);
    counts.set(g, (counts.get(g) ?? 0) + 1);
    longest = Math.max(longest, g);
  }
  let common = 0;
  let best = 0;
  for (const [g, n] of counts) if (n > best || (n === best && g < common)) [common, best] = [g, n];
  let over = 0;
  for (const [g, n] of counts) if (g > common) over += n;
  return { common, longest, over };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------------------------------------
// NAB: timestamp,value

function importNab(file: string, opts: ImportOptions): DemandImport {
  const { records, broken, index } = withHeader(file, 'nab', ['timestamp', 'value']);
  const profile = opts.profile ?? basename(file).replace(/\.csv$/i, '');
  const order = new TimeOrder();
  const kept: { us: number; value: number; line: number }[] = [];
  const skipped = scanRows(file, ['timestamp', 'value'], index, records, broken, opts.skipBad === true, (f, rec) => {
    const us = stamp(f, 'timestamp');
    const value = f.number('value', { min: 0 });
    order.check(f, 'timestamp', us, f.text('timestamp'));
    if (us === order.last) f.fail('timestamp', `repeats the timestamp of line ${order.lastLine}`);
    if (f.issues.length) return;
    order.accept(us, rec.line, f.text('timestamp'));
    kept.push({ us, value, line: rec.line });
  });
  const us0 = kept[0]?.us ?? 0;
  const rows = kept.map((k) => ({ t_s: (k.us - us0) / 1e6, profile, count: Math.round(k.value) }));

  const notes = [`profile ${profile}: ${plural(rows.length, 'row')}, t_s from the first timestamp (${new Date(us0 / 1000).toISOString().replace('.000Z', 'Z')}, read as UTC)`];
  const g = gaps(rows.map((r) => r.t_s));
  if (rows.length > 1) notes.push(`interval ${g.common} s (the most common gap)${g.over ? `; ${plural(g.over, 'gap')} longer (longest ${g.longest} s): missing intervals are absent rows, not zero counts` : ''}`);
  const fractional = kept.filter((k) => !Number.isInteger(k.value)).length;
  if (fractional) notes.push(`${fractional} of ${kept.length} values were not whole numbers and were rounded half up`);
  const maxValue = maxOf(kept.map((k) => k.value), 0);
  if (/utili[sz]ation|cpu/i.test(basename(file)) || (fractional > 0 && maxValue <= 100)) {
    notes.push(`the values look like utilisation percentages (0–100${/cpu/i.test(basename(file)) ? ', CPU by the file name' : ''}), not arrival counts: count = round(percent) is a load proxy`);
  }
  return { kind: 'demand', rows, skipped, notes };
}

// ---------------------------------------------------------------------------------------------
// Azure Functions 2019: HashOwner,HashApp,HashFunction,Trigger,1..1440 (invocations per minute)

function importAzure2019(file: string, opts: ImportOptions): DemandImport {
  const { records, broken } = readCsv(file);
  const h = records[0];
  const fixed = ['HashOwner', 'HashApp', 'HashFunction', 'Trigger'];
  const expected = `the header "${fixed.join(',')},1,2,…,1440" of --format azure-functions-2019`;
  if (!h) throw new InputError([`${file}:1:1: empty file: expected ${expected}`]);
  h.fields.forEach((c, i) => {
    const want = i < fixed.length ? fixed[i] : String(i - fixed.length + 1);
    if (c !== want) headerError(file, h.line, i + 1, `expected ${want} in ${expected}, got "${c.slice(0, 40)}"`);
  });
  const minutes = h.fields.length - fixed.length;
  if (minutes < 1) headerError(file, h.line, fixed.length + 1, `no minute columns: expected ${expected}`);
  const index = new Map<string, number>(fixed.map((c, i) => [c, i]));
  for (let m = 1; m <= minutes; m++) index.set(`minute ${m}`, fixed.length + m - 1);

  const functions: { hash: string; trigger: string; line: number; counts: number[] }[] = [];
  const firstLine = new Map<string, number>();
  const skipped = scanRows(file, h.fields, index, records.slice(1), broken, opts.skipBad === true, (f, rec) => {
    f.name('HashOwner');
    f.name('HashApp');
    const hash = f.name('HashFunction');
    const trigger = f.text('Trigger');
    const counts: number[] = [];
    for (let m = 1; m <= minutes; m++) counts.push(f.number(`minute ${m}`, { min: 0, integer: true }));
    const dup = firstLine.get(hash);
    if (dup !== undefined) f.fail('HashFunction', `function ${hash.slice(0, 8)}… appears twice (first on line ${dup})`);
    if (f.issues.length) return;
    firstLine.set(hash, rec.line);
    functions.push({ hash, trigger, line: rec.line, counts });
  });

  const { names, length } = shortNames(functions.map((fn) => fn.hash));
  const profile = (fn: { hash: string }) => prefixed(opts, names.get(fn.hash) as string);
  const rows: DemandRow[] = [];
  for (let m = 0; m < minutes; m++) {
    for (const fn of functions) {
      const count = fn.counts[m] as number;
      if (count > 0) rows.push({ t_s: m * 60, profile: profile(fn), count });
    }
  }
  const notes = [
    `${plural(functions.length, 'function')} over ${plural(minutes, 'minute')}; t_s = (minute − 1) × 60; minutes with 0 invocations are left out (${rows.length} of ${functions.length * minutes} function-minutes have invocations)`,
    `profiles are the first ${length} characters of HashFunction${length > 8 ? ' (8 would collide)' : ''}: ${functions.map((fn) => `${profile(fn)} (${fn.trigger || 'no trigger'}, line ${fn.line}, ${fn.counts.reduce((a, c) => a + c, 0)} invocations)`).join(', ')}`,
  ];
  return { kind: 'demand', rows, skipped, notes };
}

// ---------------------------------------------------------------------------------------------
// Azure Functions 2021: app,func,end_timestamp,duration (seconds)

function importAzure2021(file: string, opts: ImportOptions): RequestImport {
  const columns = ['app', 'func', 'end_timestamp', 'duration'];
  const { records, broken, index } = withHeader(file, 'azure-functions-2021', columns);
  const kept: { func: string; app: string; arrival_s: number; duration_s: number }[] = [];
  const skipped = scanRows(file, columns, index, records, broken, opts.skipBad === true, (f) => {
    const app = f.name('app');
    const func = f.name('func');
    const end = f.number('end_timestamp', { min: 0 });
    const duration = f.number('duration', { min: 0 });
    if (f.issues.length) return;
    kept.push({ app, func, arrival_s: end - duration, duration_s: duration });
  });
  const t0 = minOf(kept.map((k) => k.arrival_s));
  const { names, length } = shortNames(kept.map((k) => k.func));
  const memMb = opts.memMb ?? IMPORT_DEFAULTS.memMb;
  const rows: RequestRow[] = kept
    .map((k) => ({ t_ms: Math.round((k.arrival_s - t0) * 1e6) / 1000, profile: prefixed(opts, names.get(k.func) as string), cpu_ms: round3(k.duration_s * 1000), mem_mb: memMb, priority: 1 as const, io: false }))
    .sort((a, b) => a.t_ms - b.t_ms); // stable: ties keep file order
  const zero = kept.filter((k) => k.duration_s === 0).length;
  const notes = [
    `${plural(rows.length, 'invocation')} of ${plural(names.size, 'function')} in ${plural(new Set(kept.map((k) => k.app)).size, 'app')}; arrival = end_timestamp − duration, t_ms from the earliest arrival, rows sorted by arrival`,
    `cpu_ms = duration (wall time taken as CPU demand); mem_mb = ${memMb} for every request (the trace has no memory); priority 1; io false`,
    `profiles are the first ${length} characters of func${length > 8 ? ' (8 would collide)' : ''}`,
  ];
  if (zero) notes.push(`${plural(zero, 'invocation')} with duration 0 (cpu_ms 0)`);
  if (kept.some((k) => k.arrival_s < 0)) notes.push('some invocations end before their duration has passed since the trace start (arrival < 0 before rebasing)');
  return { kind: 'request', rows, skipped, notes };
}

// ---------------------------------------------------------------------------------------------
// Azure LLM inference: TIMESTAMP,ContextTokens,GeneratedTokens

function importAzureLlm(file: string, opts: ImportOptions): RequestImport {
  const columns = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'];
  const { records, broken, index } = withHeader(file, 'azure-llm', columns);
  const msCtx = opts.llmMsPerContextToken ?? IMPORT_DEFAULTS.llmMsPerContextToken;
  const msGen = opts.llmMsPerGeneratedToken ?? IMPORT_DEFAULTS.llmMsPerGeneratedToken;
  const baseMb = opts.llmBaseMb ?? IMPORT_DEFAULTS.llmBaseMb;
  const mbCtx = opts.llmMbPerContextToken ?? IMPORT_DEFAULTS.llmMbPerContextToken;
  const profile = opts.profile ?? 'llm';
  const order = new TimeOrder();
  const kept: { us: number; ctx: number; gen: number }[] = [];
  const skipped = scanRows(file, columns, index, records, broken, opts.skipBad === true, (f, rec) => {
    const us = stamp(f, 'TIMESTAMP');
    const ctx = f.number('ContextTokens', { min: 0, integer: true });
    const gen = f.number('GeneratedTokens', { min: 0, integer: true });
    order.check(f, 'TIMESTAMP', us, f.text('TIMESTAMP'));
    if (f.issues.length) return;
    order.accept(us, rec.line, f.text('TIMESTAMP'));
    kept.push({ us, ctx, gen });
  });
  const us0 = kept[0]?.us ?? 0;
  const rows: RequestRow[] = kept.map((k) => ({
    t_ms: (k.us - us0) / 1000,
    profile,
    cpu_ms: round3(msCtx * k.ctx + msGen * k.gen),
    mem_mb: Math.ceil(round3(baseMb + mbCtx * k.ctx)),
    priority: 1,
    io: false,
  }));
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const notes = [
    `${plural(rows.length, 'request')}, profile ${profile}, t_ms from the first TIMESTAMP (${kept.length ? new Date(us0 / 1000).toISOString() : '—'}, read as UTC)`,
    `cost model: cpu_ms = ${msCtx} × ContextTokens + ${msGen} × GeneratedTokens; mem_mb = ⌈${baseMb} + ${mbCtx} × ContextTokens⌉; priority 1; io false`,
    `tokens: ${sum(kept.map((k) => k.ctx))} context, ${sum(kept.map((k) => k.gen))} generated`,
  ];
  return { kind: 'request', rows, skipped, notes };
}

// ---------------------------------------------------------------------------------------------
// Alibaba cluster-trace-v2018 machine_usage (no header)

const ALIBABA_COLUMNS = ['machine_id', 'time_stamp', 'cpu_util_percent', 'mem_util_percent', 'mem_gps', 'mkpi', 'net_in', 'net_out', 'disk_io_percent'] as const;

interface Sample {
  machine: string;
  ts: number;
  cpu: number;
  mem?: number;
  disk?: number;
  line: number;
}

function importAlibaba(file: string, opts: ImportOptions): DemandImport {
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
    if (ts === 0) f.fail('time_stamp', '0 marks a sample outside the trace\'s 8-day window');
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
    'count = round(cpu_util_percent): the machine\'s CPU utilisation in percent as a load proxy, not arrivals; each row stands for the interval up to the machine\'s next sample',
    `t_s = time_stamp − ${t0} (the earliest sample in the file); rows sorted by t_s, then machine`,
  );
  if (duplicates) notes.push(`${plural(duplicates, 'repeated sample')} (same machine and time_stamp, first on line ${firstDuplicate}): the last row of each was kept`);
  const byMachine = new Map<string, Sample[]>();
  for (const s of samples) {
    const l = byMachine.get(s.machine) ?? [];
    if (!l.length) byMachine.set(s.machine, l);
    l.push(s);
  }
  for (const [m, l] of byMachine) {
    l.sort((a, b) => a.ts - b.ts);
    const g = gaps(l.map((s) => s.ts));
    notes.push(`${name(m)}: ${plural(l.length, 'sample')}, t_s ${(l[0] as Sample).ts - t0}–${(l.at(-1) as Sample).ts - t0}, interval ${g.common} s (most common), longest gap ${g.longest} s`);
    if (opts.utilNote) {
      const stat = (xs: number[]) => {
        const ok = xs.filter((x) => x >= 0 && x <= 100);
        const mean = ok.length ? ok.reduce((a, x) => a + x, 0) / ok.length : NaN;
        return `${ok.length ? `mean ${mean.toFixed(1)} %, max ${maxOf(ok)} %` : 'no values'}${xs.length > ok.length ? ` (${xs.length - ok.length} outside 0–100 ignored)` : ''}`;
      };
      notes.push(
        `${name(m)} utilisation (the trace has no pressure stall data, only utilisation): cpu ${stat(l.map((s) => s.cpu))}; memory ${stat(l.flatMap((s) => (s.mem === undefined ? [] : [s.mem])))}; disk io ${stat(l.flatMap((s) => (s.disk === undefined ? [] : [s.disk])))}`,
      );
    }
  }
  return { kind: 'demand', rows, skipped, notes };
}
