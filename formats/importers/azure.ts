/**
 * The three Azure public traces: Functions 2019 (invocations per function per minute → demand),
 * Functions 2021 (one row per invocation → requests) and LLM inference (tokens per request →
 * requests, through a cost model). Together because they are one family: hashed names made
 * into profiles, and model defaults (IMPORT_DEFAULTS) that fill in what the traces lack.
 */
import { InputError } from '../errors.ts';
import { headerError, readCsv, scanRows, TimeOrder } from '../csv.ts';
import type { DemandImport, ImportOptions, RequestImport } from './types.ts';
import type { DemandRow, RequestRow } from '../workload-traces.ts';
import { minOf, plural, prefixed, round3, shortNames, stamp, withHeader } from './common.ts';

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

// ---------------------------------------------------------------------------------------------
// Azure Functions 2019: HashOwner,HashApp,HashFunction,Trigger,1..1440 (invocations per minute)

export function importAzure2019(file: string, opts: ImportOptions): DemandImport {
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

export function importAzure2021(file: string, opts: ImportOptions): RequestImport {
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
    .map((k) => ({
      t_ms: Math.round((k.arrival_s - t0) * 1e6) / 1000,
      profile: prefixed(opts, names.get(k.func) as string),
      cpu_ms: round3(k.duration_s * 1000),
      mem_mb: memMb,
      priority: 1 as const,
      io: false,
    }))
    .sort((a, b) => a.t_ms - b.t_ms); // stable: ties keep file order
  const zero = kept.filter((k) => k.duration_s === 0).length;
  const notes = [
    `${plural(rows.length, 'invocation')} of ${plural(names.size, 'function')} in ${plural(new Set(kept.map((k) => k.app)).size, 'app')}; arrival = end_timestamp − duration, t_ms from the earliest arrival, rows sorted by arrival`,
    `cpu_ms = duration (wall time taken as CPU demand); mem_mb = ${memMb} for every request (the trace has no memory); priority 1; io false`,
    `profiles are the first ${length} characters of func${length > 8 ? ' (8 would collide)' : ''}`,
  ];
  if (zero) notes.push(`${plural(zero, 'invocation')} with duration 0 (cpu_ms 0)`);
  if (kept.some((k) => k.arrival_s < 0))
    notes.push(
      'some invocations end before their duration has passed since the trace start (arrival < 0 before rebasing)',
    );
  return { kind: 'request', rows, skipped, notes };
}

// ---------------------------------------------------------------------------------------------
// Azure LLM inference: TIMESTAMP,ContextTokens,GeneratedTokens

export function importAzureLlm(file: string, opts: ImportOptions): RequestImport {
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
