/**
 * The trace formats of docs/formats.md: kind detection, strict located validation, skip-bad reporting,
 * write → read round trips, and the project's real PSI recording.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capProblems } from '../../formats/csv.ts';
import { readPsiTrace, writePsiTrace, type PsiRow } from '../../formats/psi-trace.ts';
import { traceKind } from '../../formats/trace-header.ts';
import { readTrace, summarizeTrace } from '../../formats/traces.ts';
import {
  readDemandTrace,
  readRequestTrace,
  writeDemandTrace,
  writeRequestTrace,
  type DemandRow,
  type RequestRow,
} from '../../formats/workload-traces.ts';
import { psiRowToPsiSet } from '../../formats/psi-columns.ts';
import { inputProblems as problems, tmpFile as tmp } from '../helpers.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PSI = join(ROOT, 'traces/psi/stress-2cpu-host.csv');

describe('the real PSI recording (traces/psi/stress-2cpu-host.csv)', () => {
  const t = readPsiTrace(PSI);

  it('loads every row, ignoring its extra columns but keeping their text', () => {
    // wc -l: 321 lines = header + 320 samples.
    expect(t.rows).toHaveLength(320);
    expect(t.skipped).toEqual([]);
    expect(t.columns).toHaveLength(24);
    expect(t.extraColumns).toEqual(['phase', 'cpu_busy_jiffies', 'cpu_idle_jiffies', 'mem_available_kb']);
  });

  it('reads the first row exactly as the file has it (percent, µs)', () => {
    // 1795751836032,idle,3.31,18.09,26.45,184563711,0.00,0.00,0.00,0,6.66,4.28,1.12,3642277,6.11,3.95,1.04,3391630,
    // 15.16,10.06,7.74,50142657,13.26,7.97,4.16,27671833,78410,94177,24321936
    const r = t.rows[0] as PsiRow;
    expect(r.t_ms).toBe(1795751836032);
    expect(r.node).toBeUndefined();
    expect(r.values).toMatchObject({
      cpu_some_avg10: 3.31,
      cpu_some_avg60: 18.09,
      cpu_some_avg300: 26.45,
      cpu_some_total_us: 184563711,
      cpu_full_avg10: 0,
      mem_some_avg10: 6.66,
      mem_full_total_us: 3391630,
      io_some_avg300: 7.74,
      io_full_total_us: 27671833,
    });
    expect(r.extra).toEqual({
      phase: 'idle',
      cpu_busy_jiffies: '78410',
      cpu_idle_jiffies: '94177',
      mem_available_kb: '24321936',
    });
    expect((t.rows[319] as PsiRow).t_ms).toBe(1795752169369);
  });

  it('has the eight phases of 40 samples each, in order', () => {
    // awk -F, 'NR>1{c[$2]++}' — idle, cpu3, mem, io2, cpu6, mem-cpu, cpu2, idle2, 40 rows each
    const phases: [string, number][] = [];
    for (const r of t.rows) {
      const p = r.extra?.phase as string;
      const last = phases.at(-1);
      if (last && last[0] === p) last[1]++;
      else phases.push([p, 1]);
    }
    expect(phases).toEqual(['idle', 'cpu3', 'mem', 'io2', 'cpu6', 'mem-cpu', 'cpu2', 'idle2'].map((p) => [p, 40]));
  });

  it('shows the load of each phase: cpu6 stalls the CPU, mem stalls memory', () => {
    const last = (phase: string) => t.rows.filter((r) => r.extra?.phase === phase).at(-1) as PsiRow;
    expect(last('cpu6').values.cpu_some_avg10).toBe(81.22);
    expect(last('mem').values.mem_some_avg10).toBe(18.6);
    expect(last('mem').values.mem_full_avg10).toBe(16.6);
  });

  it('is detected as a PSI trace and summarised', () => {
    expect(traceKind(PSI)).toBe('psi');
    expect(summarizeTrace(readTrace(PSI))).toMatchObject({
      kind: 'psi',
      rows: 320,
      nodes: ['all'],
      psi_columns: 24,
      t_first: 1795751836032,
      t_last: 1795752169369,
      span_s: 333.337,
    });
  });
});

describe('the bundled traces', () => {
  it('every converted trace in traces/demand and traces/requests reads without a problem', () => {
    for (const d of ['demand', 'requests']) {
      const files = readdirSync(join(ROOT, 'traces', d)).filter((x) => x.endsWith('.csv'));
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) {
        const t = readTrace(join(ROOT, 'traces', d, f));
        expect(t.kind).toBe(d === 'demand' ? 'demand' : 'request');
        expect(t.rows.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('psiRowToPsiSet', () => {
  it('converts percent to fractions, keeps total_us, maps mem to memory', () => {
    const s = psiRowToPsiSet((readPsiTrace(PSI).rows[0] as PsiRow).values);
    expect(s.cpu).toEqual({
      some: { avg10: 0.0331, avg60: 0.1809, avg300: 0.2645, total_us: 184563711 },
      full: { avg10: 0, avg60: 0, avg300: 0, total_us: 0 },
    });
    expect(s.memory).toEqual({
      some: { avg10: 0.0666, avg60: 0.0428, avg300: 0.0112, total_us: 3642277 },
      full: { avg10: 0.0611, avg60: 0.0395, avg300: 0.0104, total_us: 3391630 },
    });
    expect(s.io.some).toEqual({ avg10: 0.1516, avg60: 0.1006, avg300: 0.0774, total_us: 50142657 });
    expect(s.io.full).toEqual({ avg10: 0.1326, avg60: 0.0797, avg300: 0.0416, total_us: 27671833 });
  });

  it('fills what a row lacks with no pressure and leaves full out when no full column is there', () => {
    expect(psiRowToPsiSet({ cpu_some_avg10: 50, mem_full_avg60: 100 })).toEqual({
      cpu: { some: { avg10: 0.5, avg60: 0, avg300: 0 } },
      memory: { some: { avg10: 0, avg60: 0, avg300: 0 }, full: { avg10: 0, avg60: 1, avg300: 0 } },
      io: { some: { avg10: 0, avg60: 0, avg300: 0 } },
    });
  });
});

describe('traceKind', () => {
  it('decides by the header', () => {
    expect(traceKind(tmp('d.csv', 't_s,profile,count\n0,a,1\n'))).toBe('demand');
    expect(traceKind(tmp('r.csv', 't_ms,profile,cpu_ms,mem_mb,priority,io\n'))).toBe('request');
    expect(traceKind(tmp('p.csv', 't_ms,node,io_full_avg60\n'))).toBe('psi');
    // Column order does not matter; a BOM and blank leading lines do not either.
    expect(traceKind(tmp('d2.csv', '\uFEFF\n\ncount,profile,t_s\n'))).toBe('demand');
  });

  it('names the file and lists what was expected for any other header', () => {
    const f = tmp('nab.csv', 'timestamp,value\n2014-07-01 00:00:00,10844\n');
    const [p] = problems(() => traceKind(f));
    expect(p).toMatch(new RegExp(`^${f}:1:1: not a trace: the header "timestamp,value" is none of: `));
    expect(p).toContain('"t_s,profile,count"');
    expect(p).toContain('"t_ms,profile,cpu_ms,mem_mb,priority,io"');
    expect(p).toContain('{cpu,mem,io}_{some,full}_{avg10_pct,avg60_pct,avg300_pct,total_us}');
    expect(problems(() => traceKind(tmp('e.csv', '')))[0]).toMatch(/e\.csv:1:1: empty file: expected a header/);
    expect(problems(() => traceKind('/nonexistent/t.csv'))).toEqual(['/nonexistent/t.csv: cannot read: ENOENT']);
  });

  it('a reader given another kind says which it is', () => {
    const f = tmp('r.csv', 't_ms,profile,cpu_ms,mem_mb,priority,io\n0,a,1,1,1,0\n');
    expect(problems(() => readDemandTrace(f))).toEqual([
      `${f}:1:1: this is a request trace (header "t_ms,profile,cpu_ms,mem_mb,priority,io"), not a demand trace`,
    ]);
    expect(problems(() => readPsiTrace(f))[0]).toContain('this is a request trace');
  });
});

describe('demand traces', () => {
  it('reads a good file, columns in any order, quoted profiles, CRLF, blank lines', () => {
    const f = tmp('d.csv', 'count,t_s,profile\r\n3,0,api\r\n\r\n1,0,"batch,nightly"\r\n0,60,api\r\n');
    expect(readDemandTrace(f)).toEqual({
      kind: 'demand',
      skipped: [],
      rows: [
        { t_s: 0, profile: 'api', count: 3 },
        { t_s: 0, profile: 'batch,nightly', count: 1 },
        { t_s: 60, profile: 'api', count: 0 },
      ],
    });
  });

  // Line numbers count every line of the file (the blank line 4 included); columns are field numbers.
  const BAD = [
    't_s,profile,count', //      1
    '0,api,5', //                2  good
    '0,api,2', //                3  profile repeated at t_s 0
    '', //                       4  blank: passed over
    '60,web,-1', //              5  negative count
    'x,web,1', //                6  t_s not a number
    '60,,2', //                  7  empty profile
    '30,web,1.5', //             8  count not whole
    '20,web,1', //               9  good: 20 ≥ 0, the last accepted time (bad rows do not count)
    '10,web,1,extra', //         10 too many fields
    '120,web', //                11 too few fields
    '5,db,1', //                 12 before 20 on line 9
    '180,"unclosed,1', //        13 CSV syntax error, swallows the rest
  ].join('\n');

  it('reports every bad row as file:line:col: column NAME: what', () => {
    const f = tmp('bad.csv', BAD);
    expect(problems(() => readDemandTrace(f))).toEqual([
      `${f}:3:2: column profile: profile api appears twice at t_s 0 (first on line 2)`,
      `${f}:5:3: column count: must not be negative, got -1`,
      `${f}:6:1: column t_s: not a number: "x"`,
      `${f}:7:2: column profile: is empty`,
      `${f}:8:3: column count: must be a whole number, got 1.5`,
      `${f}:10:4: row has 4 fields, expected 3 (t_s,profile,count)`,
      `${f}:11:3: row has 2 fields, expected 3 (t_s,profile,count)`,
      `${f}:12:1: column t_s: time goes backwards: 5 is before 20 on line 9`,
      expect.stringMatching(new RegExp(`^${f}:13:1: invalid CSV: Quote Not Closed`)),
    ]);
  });

  it('with skipBad keeps the good rows and lists every skipped line with its reason', () => {
    const t = readDemandTrace(tmp('bad.csv', BAD), { skipBad: true });
    expect(t.rows).toEqual([
      { t_s: 0, profile: 'api', count: 5 },
      { t_s: 20, profile: 'web', count: 1 },
    ]);
    expect(t.skipped.map((s) => [s.line, s.col])).toEqual([
      [3, 2],
      [5, 3],
      [6, 1],
      [7, 2],
      [8, 3],
      [10, 4],
      [11, 3],
      [12, 1],
      [13, 1],
    ]);
    expect(t.skipped[1]).toEqual({ line: 5, col: 3, reason: 'column count: must not be negative, got -1' });
  });

  it('lists all problems of one row together', () => {
    const f = tmp('two.csv', 't_s,profile,count\n-1,,x\n');
    expect(problems(() => readDemandTrace(f))).toEqual([
      `${f}:2:1: column t_s: must not be negative, got -1`,
      `${f}:2:2: column profile: is empty`,
      `${f}:2:3: column count: not a number: "x"`,
    ]);
    expect(readDemandTrace(f, { skipBad: true }).skipped).toEqual([
      {
        line: 2,
        col: 1,
        reason: 'column t_s: must not be negative, got -1; column profile: is empty; column count: not a number: "x"',
      },
    ]);
  });

  it('caps the list at 50 problems plus a count of the rest', () => {
    const f = tmp('many.csv', ['t_s,profile,count', ...Array.from({ length: 60 }, (_, i) => `${i},a,-1`)].join('\n'));
    const p = problems(() => readDemandTrace(f));
    expect(p).toHaveLength(51);
    expect(p[0]).toBe(`${f}:2:3: column count: must not be negative, got -1`);
    expect(p[49]).toBe(`${f}:51:3: column count: must not be negative, got -1`);
    expect(p[50]).toBe('… and 10 more problems');
    expect(readDemandTrace(f, { skipBad: true }).skipped).toHaveLength(60);
    expect(capProblems(['a', 'b', 'c'], 3, 2)).toEqual(['a', 'b', '… and 1 more problems']);
  });

  it('rejects a bad header whatever skipBad says', () => {
    const f = tmp('h.csv', 't_s,profile,count,colour\n0,a,1,red\n');
    expect(problems(() => readDemandTrace(f, { skipBad: true }))).toEqual([
      `${f}:1:4: unknown column colour in a demand trace (expected t_s,profile,count)`,
    ]);
    const g = tmp('h2.csv', 't_s,profile\n0,a\n');
    expect(problems(() => readDemandTrace(g))).toEqual([
      `${g}:1:1: missing column count (a demand trace has t_s,profile,count)`,
    ]);
    const h = tmp('h3.csv', 't_s,profile,count,count\n');
    expect(problems(() => readDemandTrace(h))).toEqual([
      `${h}:1:4: column count appears twice in the header (first in column 3)`,
    ]);
    const late = tmp('h4.csv', '\n\nt_s,profile\n0,a\n'); // the header is on line 3
    expect(problems(() => readDemandTrace(late))).toEqual([
      `${late}:3:1: missing column count (a demand trace has t_s,profile,count)`,
    ]);
  });

  it('an empty trace (header only) is valid', () => {
    expect(readDemandTrace(tmp('e.csv', 't_s,profile,count\n')).rows).toEqual([]);
  });
});

describe('request traces', () => {
  it('reads priority 0–3 and io as 0/1/true/false', () => {
    const f = tmp(
      'r.csv',
      't_ms,profile,cpu_ms,mem_mb,priority,io\n0,api,12.5,256,0,0\n0,api,1,1,3,TRUE\n1.25,batch,0,0,2,false\n',
    );
    expect(readRequestTrace(f).rows).toEqual([
      { t_ms: 0, profile: 'api', cpu_ms: 12.5, mem_mb: 256, priority: 0, io: false },
      { t_ms: 0, profile: 'api', cpu_ms: 1, mem_mb: 1, priority: 3, io: true },
      { t_ms: 1.25, profile: 'batch', cpu_ms: 0, mem_mb: 0, priority: 2, io: false },
    ]);
  });

  it('locates every problem', () => {
    const f = tmp(
      'r.csv',
      [
        't_ms,profile,cpu_ms,mem_mb,priority,io',
        '100,api,5,128,1,0', //   2 good
        '200,api,-5,128,4,yes', // 3 cpu_ms, priority, io
        '50,api,5,1e3,1,1', //    4 time backwards (1e3 is a number)
        '300,,5,abc,1.0,1', //    5 profile, mem_mb, priority
        '400,api,5,128,1', //     6 five fields
      ].join('\n'),
    );
    expect(problems(() => readRequestTrace(f))).toEqual([
      `${f}:3:3: column cpu_ms: must not be negative, got -5`,
      `${f}:3:5: column priority: must be 0, 1, 2 or 3, got "4"`,
      `${f}:3:6: column io: must be 0, 1, true or false, got "yes"`,
      `${f}:4:1: column t_ms: time goes backwards: 50 is before 100 on line 2`,
      `${f}:5:2: column profile: is empty`,
      `${f}:5:4: column mem_mb: not a number: "abc"`,
      `${f}:5:5: column priority: must be 0, 1, 2 or 3, got "1.0"`,
      `${f}:6:6: row has 5 fields, expected 6 (t_ms,profile,cpu_ms,mem_mb,priority,io)`,
    ]);
  });
});

describe('PSI traces', () => {
  it('reads node, leaves empty fields out and keeps unknown columns as text', () => {
    const f = tmp(
      'p.csv',
      't_ms,node,cpu_some_avg10,mem_full_total_us,phase\n0,0,12.5,100,warm\n0,1,,200,warm\n0,,1,,\n1000,0,0,150,hot\n',
    );
    const t = readPsiTrace(f);
    expect(t.columns).toEqual(['cpu_some_avg10', 'mem_full_total_us']);
    expect(t.rows).toEqual([
      { t_ms: 0, node: 0, values: { cpu_some_avg10: 12.5, mem_full_total_us: 100 }, extra: { phase: 'warm' } },
      { t_ms: 0, node: 1, values: { mem_full_total_us: 200 }, extra: { phase: 'warm' } },
      { t_ms: 0, values: { cpu_some_avg10: 1 }, extra: { phase: '' } },
      { t_ms: 1000, node: 0, values: { cpu_some_avg10: 0, mem_full_total_us: 150 }, extra: { phase: 'hot' } },
    ]);
    expect(summarizeTrace(t).nodes).toEqual([0, 1, 'all']);
  });

  it('locates every problem', () => {
    const f = tmp(
      'p.csv',
      [
        't_ms,node,cpu_some_avg10,io_full_total_us,note',
        '0,0,10,5,a', //       2 good
        '0,0,11,6,b', //       3 node 0 twice at t_ms 0
        '1,1.5,101,-1,c', //   4 node, avg > 100, total < 0
        '2,1,ten,,d', //       5 avg not a number
      ].join('\n'),
    );
    expect(problems(() => readPsiTrace(f))).toEqual([
      `${f}:3:2: column node: a second sample for node 0 at t_ms 0 (first on line 2)`,
      `${f}:4:2: column node: must be a whole number, got 1.5`,
      `${f}:4:3: column cpu_some_avg10: must be at most 100, got 101`,
      `${f}:4:4: column io_full_total_us: must not be negative, got -1`,
      `${f}:5:3: column cpu_some_avg10: not a number: "ten"`,
    ]);
  });

  it('needs t_ms in the header', () => {
    const f = tmp('p.csv', 'time,cpu_some_avg10\n0,1\n');
    expect(problems(() => readPsiTrace(f))[0]).toMatch(/p\.csv:1:1: not a trace/);
  });
});

describe('writers', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'fgo-write-'));

  it('demand: write → read gives the same rows; nothing left behind but the file', () => {
    const d = dir();
    const f = join(d, 'sub', 'd.csv'); // the directory is created
    const rows: DemandRow[] = [
      { t_s: 0, profile: 'api', count: 3 },
      { t_s: 0, profile: 'has, comma "and quotes"', count: 0 },
      { t_s: 0.5, profile: ' padded ', count: 7 },
      { t_s: 1e21, profile: 'far', count: 12345678901 },
    ];
    writeDemandTrace(f, rows);
    expect(readDemandTrace(f).rows).toEqual(rows); // quoted blanks are kept, unquoted ones trimmed
    expect(readdirSync(join(d, 'sub'))).toEqual(['d.csv']);
    expect(readFileSync(f, 'utf8').split('\n')[2]).toBe('0,"has, comma ""and quotes""",0');
  });

  it('request: write → read gives the same rows', () => {
    const f = join(dir(), 'r.csv');
    const rows: RequestRow[] = [
      { t_ms: 0, profile: 'api', cpu_ms: 0.1 + 0.2, mem_mb: 128, priority: 0, io: true },
      { t_ms: 1.491, profile: 'llm', cpu_ms: 440.4, mem_mb: 2404, priority: 3, io: false },
    ];
    writeRequestTrace(f, rows);
    expect(readRequestTrace(f).rows).toEqual(rows);
    expect(readFileSync(f, 'utf8')).toBe(
      't_ms,profile,cpu_ms,mem_mb,priority,io\n0,api,0.30000000000000004,128,0,1\n1.491,llm,440.4,2404,3,0\n',
    );
  });

  it('psi: write → read gives the same rows, the real recording included', () => {
    const t = readPsiTrace(PSI);
    const f = join(dir(), 'p.csv');
    writePsiTrace(f, t.rows);
    const back = readPsiTrace(f);
    expect(back.rows).toEqual(t.rows);
    expect(back.extraColumns).toEqual(t.extraColumns);
    const g = join(dir(), 'n.csv');
    const rows: PsiRow[] = [
      { t_ms: 0, node: 0, values: { io_some_avg10: 1.5 } },
      { t_ms: 0, values: { cpu_full_total_us: 7 } },
    ];
    writePsiTrace(g, rows);
    expect(readFileSync(g, 'utf8')).toBe('t_ms,node,cpu_full_total_us,io_some_avg10_pct\n0,0,,1.5\n0,,7,\n');
    expect(readPsiTrace(g).rows).toEqual(rows);
  });

  it('refuse rows that would not read back, and write nothing then', () => {
    const f = join(dir(), 'bad.csv');
    expect(
      problems(() =>
        writeDemandTrace(f, [
          { t_s: 10, profile: 'a', count: 1 },
          { t_s: 5, profile: '', count: -1 },
        ]),
      ),
    ).toEqual([
      `${f}:3:1: column t_s: time goes backwards: 5 is before 10 on line 2`,
      `${f}:3:2: column profile: is empty`,
      `${f}:3:3: column count: must not be negative, got -1`,
    ]);
    expect(
      problems(() => writeRequestTrace(f, [{ t_ms: NaN, profile: 'a', cpu_ms: 1, mem_mb: 1, priority: 1, io: false }])),
    ).toEqual([`${f}:2:1: column t_ms: not a number: "NaN"`]);
    expect(existsSync(f)).toBe(false);
    expect(existsSync(`${f}.tmp`)).toBe(false);
  });
});
