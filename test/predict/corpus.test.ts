/**
 * The forecaster's training corpus: every bundled NAB series reads, exactly the rows with a
 * repeated timestamp are left out under --skip-bad (the two daylight-saving repeats, 11 rows each,
 * and one doubled sample of occupancy_t4013; traces/nab/SOURCE.md), and the committed card names
 * exactly these files by digest.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../predict/input.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NAB = join(ROOT, 'traces/nab');
const files = readdirSync(NAB)
  .filter((f) => f.endsWith('.csv'))
  .sort();

describe('the training corpus', () => {
  it('26 NAB series; 23 rows with a repeated timestamp left out, no other row', () => {
    expect(files).toHaveLength(26);
    const skipped = Object.fromEntries(
      files.map((f) => [f, loadTrace(join(NAB, f), { skipBad: true }).skipped]).filter(([, n]) => n !== 0),
    );
    expect(skipped).toEqual({
      'ec2_disk_write_bytes_1ef3de.csv': 11,
      'ec2_network_in_5abac7.csv': 11,
      'occupancy_t4013.csv': 1,
    });
  });

  it('values are read as they are: a CPU series at 0.07 % is not rounded to zeros', () => {
    const s = loadTrace(join(NAB, 'ec2_cpu_utilization_c6585a.csv')).series[0];
    expect(s?.counts[0]).toBe(0.066);
  });

  it('the committed card names these files, by digest', () => {
    const cardFile = join(ROOT, 'models/demand.card.json');
    if (!existsSync(cardFile)) return;
    const card = JSON.parse(readFileSync(cardFile, 'utf8')) as { data: { file: string; sha256_16: string }[] };
    const nab = card.data.filter((d) => d.file.startsWith('traces/nab/'));
    expect(nab.map((d) => d.file.slice('traces/nab/'.length)).sort()).toEqual(files);
    for (const d of card.data)
      expect(loadTrace(join(ROOT, d.file), { skipBad: true }).sha256, d.file).toBe(d.sha256_16);
  });
});
