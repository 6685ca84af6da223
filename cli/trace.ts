/**
 * `fgo trace import` and `fgo trace check`: public traces into fgo's formats, and any fgo trace
 * validated and summarised. Problems are InputErrors (exit 1, every problem as file:line:col);
 * with --json they are printed as data instead.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { assertOutputFile } from '../formats/outputs.ts';
import type { SkippedRow } from '../formats/csv.ts';
import { IMPORT_DEFAULTS, importTrace } from '../formats/importers.ts';
import { IMPORT_FORMATS, type ImportFormat, type ImportOptions } from '../formats/importers/types.ts';
import { readTrace, summarizeTrace, type TraceSummary } from '../formats/traces.ts';
import { writeDemandTrace, writeRequestTrace } from '../formats/workload-traces.ts';
import { InputError } from '../formats/errors.ts';
import { roundTo } from '../engine/round.ts';

/** How many skipped rows the text output lists (--json lists them all). */
const SHOW_SKIPPED = 5;

function nonNegative(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a non-negative number');
  return n;
}

/** A duration in seconds, read at a glance: 45 s, 12.5 min, 3.2 h, 215.0 d. */
function formatSpan(s: number): string {
  if (s < 120) return `${roundTo(s, 3)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** One line: kind, rows, profiles, time range and span, and the totals of the kind. */
function summaryLine(s: TraceSummary): string {
  const parts = [`${s.kind} trace`, `${s.rows} ${s.kind === 'request' ? 'requests' : 'rows'}`];
  if (s.profiles !== undefined) parts.push(`${s.profiles} profile${s.profiles === 1 ? '' : 's'}`);
  if (s.nodes) parts.push(s.nodes.length === 1 && s.nodes[0] === 'all' ? 'system-wide' : `nodes ${s.nodes.join(',')}`);
  if (s.t_first !== undefined) parts.push(`t_${s.unit} ${s.t_first}–${s.t_last} (span ${formatSpan(s.span_s)})`);
  if (s.total_count !== undefined) parts.push(`total count ${s.total_count}`);
  if (s.total_cpu_ms !== undefined) parts.push(`total cpu ${formatSpan(s.total_cpu_ms / 1000)}`);
  if (s.psi_columns !== undefined)
    parts.push(`${s.psi_columns} PSI columns${s.extra_columns?.length ? ` (+ ${s.extra_columns.join(',')})` : ''}`);
  return parts.join(', ');
}

function printSkipped(file: string, skipped: readonly SkippedRow[]): void {
  for (const k of skipped.slice(0, SHOW_SKIPPED)) console.log(`  skipped ${file}:${k.line}:${k.col}: ${k.reason}`);
  if (skipped.length > SHOW_SKIPPED)
    console.log(`  … and ${skipped.length - SHOW_SKIPPED} more skipped rows (--json lists them all)`);
}

/** Run `fn`; with --json an InputError becomes {"ok":false,"problems":[…]} and exit code 1. */
function reporting(json: boolean | undefined, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof InputError) || !json) throw e;
    console.log(JSON.stringify({ ok: false, problems: e.problems }));
    process.exitCode = 1;
  }
}

/** The importer's options as commander hands them over, plus the command's own. */
interface ImportCliOptions extends ImportOptions {
  format: ImportFormat;
  out: string;
  json?: boolean;
  force?: boolean;
}

/** `fgo trace import`'s work: the public trace converted, written, and summarized. */
function importCommand(input: string, o: ImportCliOptions): void {
  if (resolve(o.out) === resolve(input))
    throw new InputError([`${o.out}: --out is the input file; choose another name`]);
  assertOutputFile('--out', o.out, o.force === true);
  const opts: ImportOptions = { skipBad: o.skipBad === true, utilNote: o.utilNote === true };
  for (const k of [
    'profile',
    'memMb',
    'llmMsPerContextToken',
    'llmMsPerGeneratedToken',
    'llmBaseMb',
    'llmMbPerContextToken',
  ] as const) {
    if (o[k] !== undefined) (opts as Record<string, unknown>)[k] = o[k];
  }
  const r = importTrace(o.format, input, opts);
  if (r.kind === 'demand') writeDemandTrace(o.out, r.rows);
  else writeRequestTrace(o.out, r.rows);
  const s = summarizeTrace(r);
  if (o.json) {
    console.log(
      JSON.stringify({
        ok: true,
        in: input,
        out: o.out,
        format: o.format,
        ...s,
        skipped: r.skipped.length,
        skipped_rows: r.skipped,
        notes: r.notes,
      }),
    );
    return;
  }
  console.log(
    `wrote ${o.out}: ${summaryLine(s)}; ${r.skipped.length} bad row${r.skipped.length === 1 ? '' : 's'} skipped`,
  );
  printSkipped(input, r.skipped);
  for (const n of r.notes) console.log(`  note: ${n}`);
}

/** `fgo trace import`. */
function registerImport(trace: Command): void {
  trace
    .command('import')
    .description(
      'convert a public trace into an fgo demand trace (t_s,profile,count) or request trace ' +
        '(t_ms,profile,cpu_ms,mem_mb,priority,io); every bad input row is reported as file:line:col and the ' +
        'import fails (exit 1) unless --skip-bad, which leaves bad rows out and lists them',
    )
    .argument('<in>', 'the input file in the public format')
    .addOption(new Option('--format <format>', 'input format').choices(IMPORT_FORMATS).makeOptionMandatory())
    .requiredOption('--out <file>', 'the trace to write (atomically: a temporary file beside it, renamed into place)')
    .option('--profile <name>', 'profile name (nab, azure-llm) or prefix NAME-… of every profile (other formats)')
    .option('--skip-bad', 'leave bad rows out and list them, instead of failing')
    .option('--force', 'replace --out if it exists (fgo never replaces a file it cannot prove it wrote)')
    .option('--json', 'print one JSON object: the summary, notes and every skipped row')
    .option(
      '--mem-mb <mb>',
      `azure-functions-2021: memory of each request (default ${IMPORT_DEFAULTS.memMb})`,
      nonNegative,
    )
    .option(
      '--llm-ms-per-context-token <ms>',
      `azure-llm: CPU time per context token (default ${IMPORT_DEFAULTS.llmMsPerContextToken})`,
      nonNegative,
    )
    .option(
      '--llm-ms-per-generated-token <ms>',
      `azure-llm: CPU time per generated token (default ${IMPORT_DEFAULTS.llmMsPerGeneratedToken})`,
      nonNegative,
    )
    .option(
      '--llm-base-mb <mb>',
      `azure-llm: fixed memory per request (default ${IMPORT_DEFAULTS.llmBaseMb})`,
      nonNegative,
    )
    .option(
      '--llm-mb-per-context-token <mb>',
      `azure-llm: KV-cache memory per context token (default ${IMPORT_DEFAULTS.llmMbPerContextToken})`,
      nonNegative,
    )
    .option('--util-note', "alibaba-machine-usage: add each machine's CPU, memory and disk utilization to the notes")
    .addHelpText(
      'after',
      `
Formats:
  nab                    NAB timestamp,value (5- or 30-minute) -> demand; profile = file name
  azure-functions-2019   HashOwner,HashApp,HashFunction,Trigger,1..1440 -> demand per function
  azure-functions-2021   app,func,end_timestamp,duration -> requests (arrival = end - duration)
  azure-llm              TIMESTAMP,ContextTokens,GeneratedTokens -> requests, profile llm;
                         cpu_ms = 0.05 x context + 20 x generated, mem_mb = ceil(0.5 x context)
  alibaba-machine-usage  v2018 machine_usage (no header) -> demand per machine,
                         count = round(cpu_util_percent) as a load proxy

Examples:
  $ fgo trace import --format nab traces/nab/nyc_taxi.csv --out traces/demand/nyc_taxi.csv
  $ fgo trace import --format azure-functions-2019 traces/azure-functions/invocations.csv --out traces/demand/azure-functions-2019.csv
  $ fgo trace import --format azure-functions-2021 traces/azure-functions/Azure2021_200.csv --out traces/requests/azure-functions-2021.csv --mem-mb 256
  $ fgo trace import --format azure-llm traces/azure-llm/AzureLLMInferenceTrace_code.csv --out traces/requests/azure-llm.csv
  $ fgo trace import --format alibaba-machine-usage traces/alibaba-v2018/machine_usage_m1932_m1933.csv --out traces/demand/alibaba-m1932-m1933.csv --util-note --skip-bad`,
    )
    .action((input: string, o: ImportCliOptions) => reporting(o.json, () => importCommand(input, o)));
}

/** `fgo trace check`. */
function registerCheck(trace: Command): void {
  trace
    .command('check')
    .description(
      'validate a trace file — its kind (demand, request or PSI) decided by the header — and print a summary; ' +
        'exits 1 listing every problem as file:line:col: column NAME: what',
    )
    .argument('<file>', 'a demand, request or PSI trace (CSV)')
    .option('--json', 'print one JSON object: {"ok":true, kind, rows, …} or {"ok":false,"problems":[…]}')
    .addHelpText(
      'after',
      `
Example:
  $ fgo trace check traces/demand/nyc_taxi.csv
  traces/demand/nyc_taxi.csv: demand trace, 10320 rows, 1 profile, t_s 0–18574200 (span 215.0 d), total count 156219716
  $ fgo trace check bad.csv
  bad.csv:4:3: column count: must not be negative, got -1`,
    )
    .action((file: string, o: { json?: boolean }) =>
      reporting(o.json, () => {
        const s = summarizeTrace(readTrace(file));
        console.log(o.json ? JSON.stringify({ ok: true, file, ...s }) : `${file}: ${summaryLine(s)}`);
      }),
    );
}

export function registerTraceCommands(program: Command): void {
  const trace = program
    .command('trace')
    .description("import public workload traces into fgo's trace formats, and check trace files");
  registerImport(trace);
  registerCheck(trace);
}
