/**
 * PSI's units in files (docs/formats.md "Units and names"): averages in percent, as the kernel
 * prints them, in columns named `_pct`; the older files' kernel names (`cpu_some_avg10`) mean the
 * same percent and still read; fractions 0–1 once inside fgo.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RECORDER_HEADER } from '../../live/recorder.ts';
import { readPsiTrace, writePsiTrace, type PsiRow } from '../../formats/psi-trace.ts';
import { psiRowToPsiSet } from '../../formats/psi-columns.ts';
import { inputProblems as problems, tmpFile as tmp } from '../helpers.ts';

describe('PSI traces: _pct columns, and the older names', () => {
  const NEW =
    't_ms,cpu_some_avg10_pct,cpu_some_total_us,mem_full_avg60_pct,phase\n0,4.28,1000,12.5,idle\n2000,100,3000,0.01,busy\n';
  const OLD =
    't_ms,cpu_some_avg10,cpu_some_total_us,mem_full_avg60,phase\n0,4.28,1000,12.5,idle\n2000,100,3000,0.01,busy\n';

  it('a _pct file reads as percent, and becomes fractions for the engine: 4.28 % → 0.0428, 12.5 % → 0.125', () => {
    const t = readPsiTrace(tmp('new.csv', NEW));
    expect(t.columns).toEqual(['cpu_some_avg10', 'cpu_some_total_us', 'mem_full_avg60']);
    expect(t.extraColumns).toEqual(['phase']);
    expect(t.rows[0]).toEqual({
      t_ms: 0,
      values: { cpu_some_avg10: 4.28, cpu_some_total_us: 1000, mem_full_avg60: 12.5 },
      extra: { phase: 'idle' },
    });
    const set = psiRowToPsiSet((t.rows[0] as PsiRow).values);
    expect(set.cpu.some).toEqual({ avg10: 0.0428, avg60: 0, avg300: 0, total_us: 1000 });
    expect(set.memory.full).toEqual({ avg10: 0, avg60: 0.125, avg300: 0 });
    const last = psiRowToPsiSet((t.rows[1] as PsiRow).values);
    expect([last.cpu.some.avg10, last.memory.full?.avg60]).toEqual([1, 0.0001]); // 100 % and 0.01 %
  });

  it('a file of the older form (kernel names, same percent) reads to the same rows', () => {
    expect(readPsiTrace(tmp('old.csv', OLD)).rows).toEqual(readPsiTrace(tmp('new2.csv', NEW)).rows);
  });

  it('both names for one figure is a located header problem', () => {
    const f = tmp('both.csv', 't_ms,cpu_some_avg10,cpu_some_avg10_pct\n0,1,1\n');
    expect(problems(() => readPsiTrace(f))).toEqual([
      `${f}:1:3: columns cpu_some_avg10 and cpu_some_avg10_pct are the same figure (percent; cpu_some_avg10 is the older name)`,
    ]);
  });

  it("a bad value is named by the file's column", () => {
    const f = tmp('bad.csv', 't_ms,cpu_some_avg10_pct\n0,150\n');
    expect(problems(() => readPsiTrace(f))).toEqual([
      `${f}:2:2: column cpu_some_avg10_pct: must be at most 100, got 150`,
    ]);
  });

  it('fgo writes _pct, and what it writes reads back', () => {
    const rows = readPsiTrace(tmp('old2.csv', OLD)).rows;
    const out = tmp('written.csv', '');
    writePsiTrace(out, rows);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe(
      't_ms,cpu_some_avg10_pct,cpu_some_total_us,mem_full_avg60_pct,phase',
    );
    expect(readPsiTrace(out).rows).toEqual(rows);
    expect(RECORDER_HEADER.slice(0, 5)).toEqual([
      't_ms',
      'cpu_some_avg10_pct',
      'cpu_some_avg60_pct',
      'cpu_some_avg300_pct',
      'cpu_some_total_us',
    ]);
  });
});
