/**
 * The Numenta Anomaly Benchmark's `timestamp,value` series as a demand trace of one profile. NAB
 * series are often utilization rather than arrivals; the notes say so when the values look like it.
 */
import { basename } from 'node:path';
import { scanRows, TimeOrder } from '../csv.ts';
import type { DemandImport, ImportOptions } from './types.ts';
import { gaps, maxOf, plural, stamp, withHeader } from './common.ts';

export function importNab(file: string, opts: ImportOptions): DemandImport {
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
  // A demand trace counts whole arrivals; the predictor reads the values as they are (`exact`), since
  // rounding would flatten a CPU series of 0.07 % to zeros.
  const rows = kept.map((k) => ({
    t_s: (k.us - us0) / 1e6,
    profile,
    count: opts.exact === true ? k.value : Math.round(k.value),
  }));

  const notes = [
    `profile ${profile}: ${plural(rows.length, 'row')}, t_s from the first timestamp (${new Date(us0 / 1000).toISOString().replace('.000Z', 'Z')}, read as UTC)`,
  ];
  const g = gaps(rows.map((r) => r.t_s));
  if (rows.length > 1)
    notes.push(
      `interval ${g.common} s (the most common gap)${g.over ? `; ${plural(g.over, 'gap')} longer (longest ${g.longest} s): missing intervals are absent rows, not zero counts` : ''}`,
    );
  const fractional = kept.filter((k) => !Number.isInteger(k.value)).length;
  if (fractional && opts.exact !== true)
    notes.push(`${fractional} of ${kept.length} values were not whole numbers and were rounded half up`);
  const maxValue = maxOf(
    kept.map((k) => k.value),
    0,
  );
  if (/utili[sz]ation|cpu/i.test(basename(file)) || (fractional > 0 && maxValue <= 100)) {
    notes.push(
      `the values look like utilization percentages (0–100${/cpu/i.test(basename(file)) ? ', CPU by the file name' : ''}), not arrival counts: count = round(percent) is a load proxy`,
    );
  }
  return { kind: 'demand', rows, skipped, notes };
}
