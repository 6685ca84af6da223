/**
 * Fuzz: the CSV trace reader (formats/traces.ts readTrace over formats/csv.ts), as `fgo trace check`,
 * `fgo sim --workload` and the predictor read every trace. Files made of one of fgo's headers (or
 * a garbled one) and random rows — numbers, empty fields, quotes, commas, CR/LF, NUL, BOM,
 * arbitrary text — and files of random bytes give a trace or an InputError whose every problem
 * starts with the file's name; never another exception.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../formats/errors.ts';
import { readTrace, summarizeTrace } from '../../formats/traces.ts';

const RUNS = { numRuns: Number(process.env.FGO_FUZZ_RUNS ?? 200) };
const TMP = mkdtempSync(join(tmpdir(), 'fgo-fuzz-csv-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const HEADERS = [
  't_s,profile,count',
  't_ms,profile,cpu_ms,mem_mb,priority,io',
  't_ms,node,cpu_some_avg10,cpu_some_total_us,memory_full_avg10',
  't_s,profile',
  'timestamp,value',
  '',
];
const field = fc.oneof(
  fc.integer({ min: -5, max: 100_000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.constantFrom('', ' ', '"', '""', '"a,b"', 'api', 'all', 'true', 'false', '1e308', '-0', '\u0000', '\r', '\ufeff'),
  fc.string({ maxLength: 8 }),
);
const row = fc.array(field, { minLength: 0, maxLength: 7 }).map((fs) => fs.join(','));
const csv = fc
  .record({
    header: fc.constantFrom(...HEADERS),
    rows: fc.array(row, { maxLength: 12 }),
    eol: fc.constantFrom('\n', '\r\n'),
    bom: fc.boolean(),
  })
  .map(({ header, rows, eol, bom }) => `${bom ? '\ufeff' : ''}${[header, ...rows].join(eol)}`);

let k = 0;
function check(data: string | Uint8Array, skipBad: boolean): void {
  const f = join(TMP, `t${k++}.csv`);
  writeFileSync(f, data);
  try {
    summarizeTrace(readTrace(f, { skipBad }));
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    expect(e.problems.length).toBeGreaterThan(0);
    for (const p of e.problems) expect(p.startsWith(f) || p.startsWith('…')).toBe(true);
  }
}

describe('readTrace', () => {
  it('fgo-like CSV with random rows: a trace or an InputError naming the file (with and without skipBad)', () => {
    fc.assert(
      fc.property(csv, fc.boolean(), (t, skip) => check(t, skip)),
      RUNS,
    );
  });

  it('random bytes: a trace or an InputError naming the file', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b, false)),
      RUNS,
    );
  });
});
