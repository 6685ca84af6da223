/**
 * What every importer takes and gives (formats/importers.ts dispatches to them): the formats, the
 * options, and the imported rows with the rows skipped and the notes. Apart from the dispatch so an
 * importer can name them without importing the registry that imports it.
 */
import type { SkippedRow } from '../csv.ts';
import type { DemandRow, RequestRow } from '../workload-traces.ts';

export const IMPORT_FORMATS = [
  'nab',
  'azure-functions-2019',
  'azure-functions-2021',
  'azure-llm',
  'alibaba-machine-usage',
] as const;
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
  /** nab: keep fractional values as they are instead of rounding them to whole counts (the predictor's reading). */
  exact?: boolean;
  /** alibaba-machine-usage: add a per-machine utilization summary (CPU, memory, disk I/O) to the notes. */
  utilNote?: boolean;
}

interface Result<K, R> {
  kind: K;
  rows: R[];
  skipped: SkippedRow[];
  notes: string[];
}
export type DemandImport = Result<'demand', DemandRow>;
export type RequestImport = Result<'request', RequestRow>;
export type ImportResult = DemandImport | RequestImport;
