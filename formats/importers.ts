/**
 * Importers: five public trace formats turned into fgo's demand and request traces (docs/formats.md,
 * "Traces"). Each reads its input as strictly as the trace readers do — every bad row is
 * `file:line:col: column NAME: what`, all of them at once, or with `skipBad` left out and listed
 * in `skipped` — and says in `notes` what it assumed and what it saw (gaps, duplicates, rounding).
 *
 * | format | gives | how |
 * |---|---|---|
 * | `nab` (`timestamp,value`) | demand | t_s from the first timestamp; one profile (file base name or `profile`); count = value rounded half up |
 * | `azure-functions-2019` (`HashOwner,HashApp,HashFunction,Trigger,1..1440`) | demand | t_s = (minute − 1) × 60; one profile per function (first 8 hex characters of HashFunction); minutes with 0 invocations left out |
 * | `azure-functions-2021` (`app,func,end_timestamp,duration`, seconds) | request | arrival = end − duration, t_ms from the earliest arrival, sorted; cpu_ms = duration; mem_mb `memMb` (128); priority 1 |
 * | `azure-llm` (`TIMESTAMP,ContextTokens,GeneratedTokens`) | request | t_ms from the first timestamp; profile `llm`; cpu_ms and mem_mb from tokens (cost model in IMPORT_DEFAULTS); priority 1 |
 * | `alibaba-machine-usage` (v2018 `machine_usage`, no header) | demand | one profile per machine; t_s from the earliest time_stamp; count = round(cpu_util_percent) as a load proxy; a repeated (machine, time_stamp) keeps the last row |
 *
 * Timestamps (`YYYY-MM-DD HH:MM:SS[.fraction]`, no zone) are read as UTC, so daylight-saving
 * changes cannot bend the time axis; only differences are kept. Times are kept to the microsecond:
 * a request trace's `t_ms` may have three decimals.
 *
 * This module is the importers' dispatch; each format is read in importers/ (nab.ts, azure.ts,
 * alibaba.ts), with what they share in importers/common.ts and the formats, options and results
 * in importers/types.ts.
 */
import { InputError } from './errors.ts';
import { importAlibaba } from './importers/alibaba.ts';
import { IMPORT_DEFAULTS, importAzure2019, importAzure2021, importAzureLlm } from './importers/azure.ts';
import { importNab } from './importers/nab.ts';
import { IMPORT_FORMATS, type ImportFormat, type ImportOptions, type ImportResult } from './importers/types.ts';

export { IMPORT_DEFAULTS };

export function importTrace(format: ImportFormat, inFile: string, opts: ImportOptions = {}): ImportResult {
  const bad = (Object.keys(IMPORT_DEFAULTS) as (keyof typeof IMPORT_DEFAULTS)[]).filter(
    (k) => opts[k] !== undefined && !(Number.isFinite(opts[k]) && (opts[k] as number) >= 0),
  );
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
