/**
 * The importers on the real public samples bundled in traces/, with figures worked out
 * independently (awk and wc on the files, noted beside each), and their strict validation.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importTrace } from '../../formats/importers.ts';
import type { DemandImport, ImportFormat, ImportOptions, RequestImport } from '../../formats/importers/types.ts';
import { parseTimestampUs, shortNames } from '../../formats/importers/common.ts';
import {
  readDemandTrace,
  readRequestTrace,
  writeDemandTrace,
  writeRequestTrace,
  type DemandRow,
} from '../../formats/workload-traces.ts';
import { inputProblems as problems, tmpFile as tmp } from '../helpers.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const T = (p: string) => join(ROOT, 'traces', p);

const demand = (format: ImportFormat, f: string, o?: ImportOptions) => {
  const r = importTrace(format, f, o);
  expect(r.kind).toBe('demand');
  return r as DemandImport;
};
const requests = (format: ImportFormat, f: string, o?: ImportOptions) => {
  const r = importTrace(format, f, o);
  expect(r.kind).toBe('request');
  return r as RequestImport;
};
const sum = (rows: readonly DemandRow[]) => rows.reduce((a, r) => a + r.count, 0);

describe('nab', () => {
  it('nyc_taxi: 30-minute counts, t_s from the first timestamp', () => {
    // awk -F, 'NR>1{n++; s+=$2}' → 10320 rows, sum 156219716; head: 10844, 8127, 6210; tail: 26288
    const r = demand('nab', T('nab/nyc_taxi.csv'));
    expect(r.rows).toHaveLength(10320);
    expect(r.rows.slice(0, 3)).toEqual([
      { t_s: 0, profile: 'nyc_taxi', count: 10844 },
      { t_s: 1800, profile: 'nyc_taxi', count: 8127 },
      { t_s: 3600, profile: 'nyc_taxi', count: 6210 },
    ]);
    // 2014-07-01 00:00 to 2015-01-31 23:30: 10319 intervals of 1800 s (the file has no gaps).
    expect(r.rows.at(-1)).toEqual({ t_s: 10319 * 1800, profile: 'nyc_taxi', count: 26288 });
    expect(sum(r.rows)).toBe(156219716);
    expect(r.skipped).toEqual([]);
    expect(r.notes).toContain('interval 1800 s (the most common gap)');
  });

  it('Twitter_volume_AAPL: 5-minute counts; --profile renames', () => {
    // awk: 15902 rows, sum 1360453; 2015-02-26 21:42:53 → 2015-04-23 02:47:53 = 4770300 s
    const r = demand('nab', T('nab/Twitter_volume_AAPL.csv'), { profile: 'aapl' });
    expect(r.rows).toHaveLength(15902);
    expect(r.rows[0]).toEqual({ t_s: 0, profile: 'aapl', count: 104 });
    expect(r.rows.at(-1)).toEqual({ t_s: 4770300, profile: 'aapl', count: 38 });
    expect(sum(r.rows)).toBe(1360453);
  });

  it('elb_request_count: the 8 missing intervals stay missing, and are noted', () => {
    // awk: 4032 rows, 4023 gaps of 300 s and 8 of 600 s; sum 249327
    const r = demand('nab', T('nab/elb_request_count_8c0756.csv'));
    expect(r.rows).toHaveLength(4032);
    expect(sum(r.rows)).toBe(249327);
    expect(r.rows.at(-1)?.t_s).toBe(4023 * 300 + 8 * 600);
    expect(r.notes[1]).toBe(
      'interval 300 s (the most common gap); 8 gaps longer (longest 600 s): missing intervals are absent rows, not zero counts',
    );
  });

  it('ec2_cpu_utilization: percentages still import, rounded half up, with a note', () => {
    // awk -F, 'NR>1{s+=int($2+0.5)}' → 173870; first values 51.846 → 52, 44.508 → 45
    const r = demand('nab', T('nab/ec2_cpu_utilization_5f5533.csv'));
    expect(r.rows).toHaveLength(4032);
    expect(r.rows.slice(0, 2).map((x) => x.count)).toEqual([52, 45]);
    expect(sum(r.rows)).toBe(173870);
    expect(r.notes).toContain('4025 of 4032 values were not whole numbers and were rounded half up');
    expect(r.notes.some((n) => n.includes('utilization percentages') && n.includes('load proxy'))).toBe(true);
  });

  it('locates bad rows and skips them on request', () => {
    const f = tmp(
      'n.csv',
      [
        'timestamp,value',
        '2014-07-01 00:00:00,10', //  2
        '2014-07-01 00:30:00,-3', //  3 negative
        '2014-07-01 00:30:00,7', //   4 good (line 3 was bad)
        '2014-07-01 00:30:00,8', //   5 repeats line 4
        '2014-07-01 00:15:00,9', //   6 backwards
        '2014-02-30 01:00:00,1', //   7 no such day
        '2014-07-01 01:00:00', //     8 one field
      ].join('\n'),
    );
    expect(problems(() => importTrace('nab', f))).toEqual([
      `${f}:3:2: column value: must not be negative, got -3`,
      `${f}:5:1: column timestamp: repeats the timestamp of line 4`,
      `${f}:6:1: column timestamp: time goes backwards: 2014-07-01 00:15:00 is before 2014-07-01 00:30:00 on line 4`,
      `${f}:7:1: column timestamp: not a timestamp YYYY-MM-DD HH:MM:SS[.fraction]: "2014-02-30 01:00:00"`,
      `${f}:8:2: row has 1 field, expected 2 (timestamp,value)`,
    ]);
    const r = demand('nab', f, { skipBad: true });
    expect(r.rows).toEqual([
      { t_s: 0, profile: 'n', count: 10 },
      { t_s: 1800, profile: 'n', count: 7 },
    ]);
    expect(r.skipped.map((s) => s.line)).toEqual([3, 5, 6, 7, 8]);
  });

  it('a wrong header is an error naming the format', () => {
    const f = tmp('x.csv', 'time,value\n');
    expect(problems(() => importTrace('nab', f))).toEqual([
      `${f}:1:1: expected the header "timestamp,value" of --format nab, got "time,value"`,
    ]);
  });
});

describe('azure-functions-2019', () => {
  it('imports per-minute counts per function, zero minutes left out', () => {
    // awk -F, 'NR>1{for(i=5;i<=NF;i++) if($i>0){n++; s+=$i}}' → 905 non-zero cells, 4525 invocations.
    // Function on line 2 is active in minutes 1–230, the other three in minutes 6–230, 5 per minute.
    const r = demand('azure-functions-2019', T('azure-functions/invocations.csv'));
    expect(r.rows).toHaveLength(905);
    expect(sum(r.rows)).toBe(4525);
    expect(new Set(r.rows.map((x) => x.profile))).toEqual(new Set(['c13acdc7', 'a2faad78', '7dc5aeab', 'ae8a1640']));
    expect(r.rows.slice(0, 6)).toEqual([
      { t_s: 0, profile: 'c13acdc7', count: 5 },
      { t_s: 60, profile: 'c13acdc7', count: 5 },
      { t_s: 120, profile: 'c13acdc7', count: 5 },
      { t_s: 180, profile: 'c13acdc7', count: 5 },
      { t_s: 240, profile: 'c13acdc7', count: 5 },
      { t_s: 300, profile: 'c13acdc7', count: 5 }, // minute 6: all four
    ]);
    expect(r.rows.slice(6, 9).map((x) => x.profile)).toEqual(['a2faad78', '7dc5aeab', 'ae8a1640']);
    expect(r.rows.at(-1)).toEqual({ t_s: 229 * 60, profile: 'ae8a1640', count: 5 });
    expect(r.notes[1]).toContain('ae8a1640 (timer, line 5, 1125 invocations)');
  });

  it('--profile prefixes; a bad cell is located by its column', () => {
    const head = `HashOwner,HashApp,HashFunction,Trigger,${Array.from({ length: 5 }, (_, i) => i + 1).join(',')}`;
    const f = tmp(
      'inv.csv',
      [head, 'o,a,deadbeef00,http,1,0,2,0,0', 'o,a,cafef00d11,http,0,0,x,-1,0', 'o,a,deadbeef00,http,1,1,1,1,1'].join(
        '\n',
      ),
    );
    expect(problems(() => importTrace('azure-functions-2019', f))).toEqual([
      `${f}:3:7: column minute 3: not a number: "x"`,
      `${f}:3:8: column minute 4: must not be negative, got -1`,
      `${f}:4:3: column HashFunction: function deadbeef… appears twice (first on line 2)`,
    ]);
    const r = demand('azure-functions-2019', f, { skipBad: true, profile: 'az' });
    expect(r.rows).toEqual([
      { t_s: 0, profile: 'az-deadbeef', count: 1 },
      { t_s: 120, profile: 'az-deadbeef', count: 2 },
    ]);
    expect(r.skipped.map((s) => [s.line, s.col])).toEqual([
      [3, 7],
      [4, 3],
    ]);
  });

  it('checks the minute columns of the header', () => {
    const f = tmp('inv.csv', 'HashOwner,HashApp,HashFunction,Trigger,1,3\n');
    expect(problems(() => importTrace('azure-functions-2019', f))[0]).toMatch(
      /inv\.csv:1:6: expected 2 in the header "HashOwner,HashApp,HashFunction,Trigger,1,2,…,1440"/,
    );
  });
});

describe('azure-functions-2021', () => {
  it('imports invocations as requests sorted by arrival = end − duration', () => {
    // 199 data rows (the file has no final newline: wc -l says 199 = header + 198 newlines).
    // Earliest arrival: line 2, 0.07949090003967285 − 0.078 = 0.0014909 s → t_ms 0, cpu 78 ms.
    // Next: line 3, 57.15786004066467 − 57.154 = 0.0038600 s → 2.369 ms after the first.
    // awk -F, 'NR>1{s+=$4}' → Σ duration 10599.17 s.
    const r = requests('azure-functions-2021', T('azure-functions/Azure2021_200.csv'));
    expect(r.rows).toHaveLength(199);
    expect(r.rows[0]).toEqual({ t_ms: 0, profile: 'e3cdb488', cpu_ms: 78, mem_mb: 128, priority: 1, io: false });
    expect(r.rows[1]).toEqual({ t_ms: 2.369, profile: '337cd24a', cpu_ms: 57154, mem_mb: 128, priority: 1, io: false });
    expect(new Set(r.rows.map((x) => x.profile)).size).toBe(31);
    expect(Math.round(r.rows.reduce((a, x) => a + x.cpu_ms, 0))).toBe(10599170);
    for (let i = 1; i < r.rows.length; i++)
      expect((r.rows[i] as { t_ms: number }).t_ms).toBeGreaterThanOrEqual((r.rows[i - 1] as { t_ms: number }).t_ms);
    expect(r.notes).toContain('8 invocations with duration 0 (cpu_ms 0)');
  });

  it("memMb sets every request's memory; bad rows are located", () => {
    expect(
      requests('azure-functions-2021', T('azure-functions/Azure2021_200.csv'), { memMb: 256 }).rows.every(
        (x) => x.mem_mb === 256,
      ),
    ).toBe(true);
    const f = tmp('a.csv', 'app,func,end_timestamp,duration\na,f1,10,2\n,f2,5,x\na,f3,4,1\n');
    expect(problems(() => importTrace('azure-functions-2021', f))).toEqual([
      `${f}:3:1: column app: is empty`,
      `${f}:3:4: column duration: not a number: "x"`,
    ]);
    // Arrivals 8 (line 2) and 3 (line 4): sorted, from the earliest.
    expect(
      requests('azure-functions-2021', f, { skipBad: true }).rows.map((x) => [x.t_ms, x.profile, x.cpu_ms]),
    ).toEqual([
      [0, 'fn-2', 1000],
      [5000, 'fn-1', 2000],
    ]);
  });
});

describe('azure-llm', () => {
  it('imports requests with the documented cost model', () => {
    // 8819 data rows (CRLF, no final newline). Line 2: 2023-11-16 18:17:03.9799600,4808,10
    //   cpu_ms = 0.05 × 4808 + 20 × 10 = 440.4; mem_mb = ⌈0.5 × 4808⌉ = 2404
    // Line 3: 18:17:04.0319600 → 52 ms later, 3180,8 → 159 + 160 = 319 ms, 1590 MB
    // Line 4: 18:17:04.0781490 → 98.189 ms, 110,27 → 5.5 + 540 = 545.5 ms, 55 MB
    // Last: 19:14:19.9280160 → 3435.948056 s. awk Σ(0.05×ctx + 20×gen) = 5820918.7 ms.
    const r = requests('azure-llm', T('azure-llm/AzureLLMInferenceTrace_code.csv'));
    expect(r.rows).toHaveLength(8819);
    expect(r.rows.slice(0, 3)).toEqual([
      { t_ms: 0, profile: 'llm', cpu_ms: 440.4, mem_mb: 2404, priority: 1, io: false },
      { t_ms: 52, profile: 'llm', cpu_ms: 319, mem_mb: 1590, priority: 1, io: false },
      { t_ms: 98.189, profile: 'llm', cpu_ms: 545.5, mem_mb: 55, priority: 1, io: false },
    ]);
    expect(r.rows.at(-1)?.t_ms).toBe(3435948.056);
    expect(r.rows.reduce((a, x) => a + x.cpu_ms, 0)).toBeCloseTo(5820918.7, 3);
    expect(r.notes[1]).toBe(
      'cost model: cpu_ms = 0.05 × ContextTokens + 20 × GeneratedTokens; mem_mb = ⌈0 + 0.5 × ContextTokens⌉; priority 1; io false',
    );
  });

  it('the model constants are options', () => {
    const r = requests('azure-llm', T('azure-llm/AzureLLMInferenceTrace_code.csv'), {
      llmMsPerContextToken: 0,
      llmMsPerGeneratedToken: 1,
      llmBaseMb: 100,
      llmMbPerContextToken: 0.001,
      profile: 'code',
    });
    // Line 2: 10 generated → 10 ms; ⌈100 + 4.808⌉ = 105 MB
    expect(r.rows[0]).toEqual({ t_ms: 0, profile: 'code', cpu_ms: 10, mem_mb: 105, priority: 1, io: false });
    expect(
      problems(() => importTrace('azure-llm', T('azure-llm/AzureLLMInferenceTrace_code.csv'), { llmBaseMb: -1 })),
    ).toEqual(['option llmBaseMb: must be a non-negative number, got -1']);
  });

  it('locates bad rows', () => {
    const f = tmp(
      'l.csv',
      'TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.5,10,1\r\n2023-11-16 18:17:03.4,10,1\r\n2023-11-16 18:17:04,1.5,\r\n',
    );
    expect(problems(() => importTrace('azure-llm', f))).toEqual([
      `${f}:3:1: column TIMESTAMP: time goes backwards: 2023-11-16 18:17:03.4 is before 2023-11-16 18:17:03.5 on line 2`,
      `${f}:4:2: column ContextTokens: must be a whole number, got 1.5`,
      `${f}:4:3: column GeneratedTokens: is empty`,
    ]);
  });
});

describe('alibaba-machine-usage', () => {
  it("imports each machine's CPU utilization as a demand proxy, sorted by time then machine", () => {
    // wc -l: 10518 rows (3325 m_1932, 7193 m_1933), no duplicates; awk Σ cpu_util_percent = 176988.
    // Earliest time_stamp 140 (m_1933, cpu 5); m_1932 starts at 386640 → t_s 386500 (cpu 41).
    const r = demand('alibaba-machine-usage', T('alibaba-v2018/machine_usage_m1932_m1933.csv'));
    expect(r.rows).toHaveLength(10518);
    expect(sum(r.rows)).toBe(176988);
    expect(r.rows[0]).toEqual({ t_s: 0, profile: 'm_1933', count: 5 });
    expect(r.rows.find((x) => x.profile === 'm_1932')).toEqual({ t_s: 386500, profile: 'm_1932', count: 41 });
    expect(r.rows.at(-1)).toEqual({ t_s: 691110 - 140, profile: 'm_1932', count: 92 });
    expect(r.rows.filter((x) => x.profile === 'm_1933')).toHaveLength(7193);
    expect(r.notes[1]).toBe(
      't_s = time_stamp − 140 (the earliest sample in the file); rows sorted by t_s, then machine',
    );
    // The output is a valid demand trace (sorted, no repeats): write it and read it back.
    const out = join(mkdtempSync(join(tmpdir(), 'fgo-import-')), 'a.csv');
    writeDemandTrace(out, r.rows);
    expect(readDemandTrace(out).rows).toEqual(r.rows);
  });

  it('utilNote adds a utilization summary per machine', () => {
    const r = demand('alibaba-machine-usage', T('alibaba-v2018/machine_usage_m1932_m1933.csv'), { utilNote: true });
    expect(r.notes.filter((n) => n.includes('utilization (the trace has no pressure stall data'))).toHaveLength(2);
  });

  it('keeps the last of repeated samples, and says so; rejects invalid-value markers and time 0', () => {
    const f = tmp(
      'mu.csv',
      [
        'm_1,100,10,90,,,1,1,1', //  1
        'm_2,100,20,90,,,1,1,1', //  2
        'm_1,100,30,90,,,1,1,1', //  3 repeats line 1: kept instead
        'm_1,110,101,90,,,1,1,1', // 4 101 marks an invalid value
        'm_1,0,5,90,,,1,1,1', //     5 outside the window
        'm_1,120,5,90', //           6 four fields
      ].join('\n'),
    );
    expect(problems(() => importTrace('alibaba-machine-usage', f))).toEqual([
      `${f}:4:3: column cpu_util_percent: 101 marks an invalid value in this trace`,
      `${f}:5:2: column time_stamp: 0 marks a sample outside the trace's 8-day window`,
      `${f}:6:5: row has 4 fields, expected 9 (machine_id,time_stamp,cpu_util_percent,mem_util_percent,mem_gps,mkpi,net_in,net_out,disk_io_percent)`,
    ]);
    const r = demand('alibaba-machine-usage', f, { skipBad: true, profile: 'ali' });
    expect(r.rows).toEqual([
      { t_s: 0, profile: 'ali-m_1', count: 30 },
      { t_s: 0, profile: 'ali-m_2', count: 20 },
    ]);
    expect(r.skipped.map((s) => s.line)).toEqual([4, 5, 6]);
    expect(r.notes).toContain(
      '1 repeated sample (same machine and time_stamp, first on line 3): the last row of each was kept',
    );
  });
});

describe('helpers', () => {
  it('shortNames: 8 hex characters, more when they would collide, fn-N otherwise', () => {
    expect([...shortNames(['abcdef0123', 'ABCDEF01ff', 'not-hex']).names.values()]).toEqual([
      'abcdef01',
      'ABCDEF01',
      'fn-3',
    ]);
    const c = shortNames(['abcdef0123', 'abcdef0145', 'abcdef0123']);
    expect(c.length).toBe(9); // abcdef01|2… and abcdef01|4… part at the 9th character
    expect([...c.names.values()]).toEqual(['abcdef012', 'abcdef014']);
  });

  it('parseTimestampUs reads UTC to the microsecond and rejects impossible dates', () => {
    expect(parseTimestampUs('1970-01-01 00:00:01')).toBe(1e6);
    expect(parseTimestampUs('1970-01-01T00:00:00.0000015Z')).toBe(2); // 1.5 µs rounds to 2
    expect(parseTimestampUs('2023-11-16 18:17:04.0781490')! - parseTimestampUs('2023-11-16 18:17:03.9799600')!).toBe(
      98189,
    );
    for (const bad of ['2014-02-30 00:00:00', '2014-07-01 24:00:00', '2014-07-01', '1404172800'])
      expect(parseTimestampUs(bad)).toBeUndefined();
  });

  it("every importer's output is a valid trace of its kind", () => {
    const out = mkdtempSync(join(tmpdir(), 'fgo-import-'));
    const r = requests('azure-llm', T('azure-llm/AzureLLMInferenceTrace_code.csv'));
    writeRequestTrace(join(out, 'llm.csv'), r.rows);
    expect(readRequestTrace(join(out, 'llm.csv')).rows).toEqual(r.rows);
    const d = demand('azure-functions-2019', T('azure-functions/invocations.csv'));
    writeDemandTrace(join(out, 'az.csv'), d.rows);
    expect(readDemandTrace(join(out, 'az.csv')).rows).toEqual(d.rows);
  });

  it('the bundled converted traces are what the importers make today', () => {
    expect(readDemandTrace(T('demand/nyc_taxi.csv')).rows).toEqual(demand('nab', T('nab/nyc_taxi.csv')).rows);
    expect(readDemandTrace(T('demand/alibaba-m1932-m1933.csv')).rows).toEqual(
      demand('alibaba-machine-usage', T('alibaba-v2018/machine_usage_m1932_m1933.csv')).rows,
    );
    expect(readRequestTrace(T('requests/azure-functions-2021.csv')).rows).toEqual(
      requests('azure-functions-2021', T('azure-functions/Azure2021_200.csv')).rows,
    );
  });
});
