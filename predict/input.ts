/**
 * Trace files for the predictor's commands: an fgo demand trace (`t_s,profile,count`) or a NAB
 * `timestamp,value` file, which is imported on the fly (formats/importers/nab.ts) so a public series
 * can be judged without converting it first. Problems are the readers' InputErrors, file:line:col.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { MAX_CSV_BYTES, readInputBytes } from '../formats/inputs.ts';
import { readCsvHead } from '../formats/csv.ts';
import { importNab } from '../formats/importers/nab.ts';
import { readDemandTrace, type DemandRow } from '../formats/workload-traces.ts';
import { seriesOfRows, type Series } from './series.ts';

export interface LoadedTrace {
  file: string;
  /** The file's base name without .csv: how the card and reports name it. */
  name: string;
  format: 'demand' | 'nab';
  rows: number;
  series: Series[];
  /** Rows a reader rejected and left out (only with skipBad). */
  skipped: number;
  /** sha256 of the file's bytes (first 16 hex digits), so a card names exactly the data it used. */
  sha256: string;
}

/** A demand trace or NAB file as per-profile series. */
export function loadTrace(file: string, opts: { skipBad?: boolean } = {}): LoadedTrace {
  const header = readCsvHead(file)[0]?.fields ?? [];
  const nab = header.length === 2 && header[0] === 'timestamp' && header[1] === 'value';
  const read = nab
    ? importNab(file, { exact: true, skipBad: opts.skipBad === true })
    : readDemandTrace(file, { skipBad: opts.skipBad === true });
  const rows: DemandRow[] = read.rows;
  const sha256 = createHash('sha256')
    .update(readInputBytes(file, MAX_CSV_BYTES, 'CSV input'))
    .digest('hex')
    .slice(0, 16);
  return {
    file,
    name: basename(file).replace(/\.csv$/i, ''),
    format: nab ? 'nab' : 'demand',
    rows: rows.length,
    skipped: read.skipped.length,
    series: seriesOfRows(rows),
    sha256,
  };
}
