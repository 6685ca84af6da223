/**
 * `fgo trace import` and `fgo trace check` end to end: the real `bin/fgo.mjs` in a child process.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, fgoSync } from './fgo.ts';
import { readTrace } from '../../formats/traces.ts';

const fgo = (...args: string[]) => fgoSync(args);

const tmpDir = () => mkdtempSync(join(tmpdir(), 'fgo-cli-trace-'));
function tmpFile(name: string, text: string): string {
  const f = join(tmpDir(), name);
  writeFileSync(f, text);
  return f;
}

describe('fgo trace import', () => {
  it('converts a NAB file, prints a one-line summary and writes a valid demand trace', () => {
    const out = join(tmpDir(), 'taxi.csv');
    const r = fgo('trace', 'import', '--format', 'nab', 'traces/nab/nyc_taxi.csv', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe(
      `wrote ${out}: demand trace, 10320 rows, 1 profile, t_s 0–18574200 (span 215.0 d), total count 156219716; 0 bad rows skipped`,
    );
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines.slice(0, 3)).toEqual(['t_s,profile,count', '0,nyc_taxi,10844', '1800,nyc_taxi,8127']);
    expect(readdirSync(join(out, '..'))).toEqual(['taxi.csv']); // no .tmp left behind
  });

  it(
    'every format, as in --help, with --json',
    () => {
      const dir = tmpDir();
      const cases: [string, string, Record<string, unknown>][] = [
        [
          'azure-functions-2019',
          'traces/azure-functions/invocations.csv',
          { kind: 'demand', rows: 905, profiles: 4, total_count: 4525 },
        ],
        [
          'azure-functions-2021',
          'traces/azure-functions/Azure2021_200.csv',
          { kind: 'request', rows: 199, profiles: 31 },
        ],
        [
          'azure-llm',
          'traces/azure-llm/AzureLLMInferenceTrace_code.csv',
          { kind: 'request', rows: 8819, profiles: 1, t_last: 3435948.056 },
        ],
        [
          'alibaba-machine-usage',
          'traces/alibaba-v2018/machine_usage_m1932_m1933.csv',
          { kind: 'demand', rows: 10518, profiles: 2, total_count: 176988 },
        ],
      ];
      for (const [format, input, want] of cases) {
        const out = join(dir, `${format}.csv`);
        const r = fgo('trace', 'import', '--format', format, input, '--out', out, '--json');
        expect(r.code, r.err).toBe(0);
        const j = JSON.parse(r.out);
        expect(j).toMatchObject({ ok: true, format, out, skipped: 0, skipped_rows: [], ...want });
        expect(j.notes.length).toBeGreaterThan(0);
        expect(readTrace(out).rows).toHaveLength(want.rows as number);
      }
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'model options reach the importer',
    () => {
      const out = join(tmpDir(), 'r.csv');
      expect(
        fgo(
          'trace',
          'import',
          '--format',
          'azure-functions-2021',
          'traces/azure-functions/Azure2021_200.csv',
          '--out',
          out,
          '--mem-mb',
          '512',
        ).code,
      ).toBe(0);
      expect(readFileSync(out, 'utf8').split('\n')[1]).toBe('0,e3cdb488,78,512,1,0');
      const llm = join(tmpDir(), 'l.csv');
      expect(
        fgo(
          'trace',
          'import',
          '--format',
          'azure-llm',
          'traces/azure-llm/AzureLLMInferenceTrace_code.csv',
          '--out',
          llm,
          '--llm-ms-per-context-token',
          '0',
          '--llm-ms-per-generated-token',
          '1',
          '--profile',
          'code',
        ).code,
      ).toBe(0);
      expect(readFileSync(llm, 'utf8').split('\n')[1]).toBe('0,code,10,2404,1,0');
    },
    CLI_TEST_TIMEOUT_MS,
  );

  const BAD = [
    'timestamp,value',
    '2014-07-01 00:00:00,10',
    '2014-07-01 00:30:00,ten',
    '2014-07-01 01:00:00,5',
    'garbage,1',
    '2014-07-01 02:00:00,-2',
    '2014-07-01 02:30:00',
    '2014-07-01 03:00:00,1',
    '2014-07-01 03:30:00,x',
    '2014-07-01 04:00:00,1',
  ].join('\n');

  it('bad input: exit 1, every problem on stderr, nothing written', () => {
    const input = tmpFile('bad.csv', BAD);
    const out = join(tmpDir(), 'o.csv');
    const r = fgo('trace', 'import', '--format', 'nab', input, '--out', out);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([
      `${input}:3:2: column value: not a number: "ten"`,
      `${input}:5:1: column timestamp: not a timestamp YYYY-MM-DD HH:MM:SS[.fraction]: "garbage"`,
      `${input}:6:2: column value: must not be negative, got -2`,
      `${input}:7:2: row has 1 field, expected 2 (timestamp,value)`,
      `${input}:9:2: column value: not a number: "x"`,
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it(
    '--skip-bad writes the good rows and shows the first five skipped lines',
    () => {
      const input = tmpFile('bad.csv', BAD);
      const out = join(tmpDir(), 'o.csv');
      const r = fgo('trace', 'import', '--format', 'nab', input, '--out', out, '--skip-bad', '--profile', 'p');
      expect(r.code).toBe(0);
      const lines = r.out.split('\n');
      expect(lines[0]).toBe(
        `wrote ${out}: demand trace, 4 rows, 1 profile, t_s 0–14400 (span 4.0 h), total count 17; 5 bad rows skipped`,
      );
      expect(lines.slice(1, 6)).toEqual([
        `  skipped ${input}:3:2: column value: not a number: "ten"`,
        `  skipped ${input}:5:1: column timestamp: not a timestamp YYYY-MM-DD HH:MM:SS[.fraction]: "garbage"`,
        `  skipped ${input}:6:2: column value: must not be negative, got -2`,
        `  skipped ${input}:7:2: row has 1 field, expected 2 (timestamp,value)`,
        `  skipped ${input}:9:2: column value: not a number: "x"`,
      ]);
      expect(readFileSync(out, 'utf8')).toBe('t_s,profile,count\n0,p,10\n3600,p,5\n10800,p,1\n14400,p,1\n');
      // The output exists now: replaced only with --force (formats/outputs.ts).
      const again = fgo('trace', 'import', '--format', 'nab', input, '--out', out, '--skip-bad');
      expect([again.code, again.err.trim()]).toEqual([
        1,
        `--out ${out}: exists; fgo does not replace a file it cannot prove it wrote: name a new file, or add --force to replace it`,
      ]);
      const j = JSON.parse(
        fgo('trace', 'import', '--format', 'nab', input, '--out', out, '--skip-bad', '--json', '--force').out,
      );
      expect(j.skipped).toBe(5);
      expect(j.skipped_rows[0]).toEqual({ line: 3, col: 2, reason: 'column value: not a number: "ten"' });
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    '--json reports problems as data; usage errors exit 2',
    () => {
      const input = tmpFile('bad.csv', BAD);
      const r = fgo('trace', 'import', '--format', 'nab', input, '--out', join(tmpDir(), 'o.csv'), '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out)).toMatchObject({
        ok: false,
        problems: expect.arrayContaining([`${input}:3:2: column value: not a number: "ten"`]),
      });
      expect(fgo('trace', 'import', '--format', 'csv', input, '--out', 'x.csv').code).toBe(2);
      expect(fgo('trace', 'import', '--format', 'nab', input).code).toBe(2); // --out missing
      expect(fgo('trace', 'import', '--format', 'azure-llm', input, '--out', 'x.csv', '--llm-base-mb', '-3').code).toBe(
        2,
      );
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it('refuses to overwrite its input', () => {
    const input = tmpFile('n.csv', 'timestamp,value\n2014-07-01 00:00:00,1\n');
    const r = fgo('trace', 'import', '--format', 'nab', input, '--out', input);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--out is the input file');
  });

  it('--help shows an example for each format', () => {
    const r = fgo('trace', 'import', '--help');
    expect(r.code).toBe(0);
    for (const f of ['nab', 'azure-functions-2019', 'azure-functions-2021', 'azure-llm', 'alibaba-machine-usage'])
      expect(r.out).toContain(`fgo trace import --format ${f} `);
  });
});

describe('fgo trace check', () => {
  it(
    'summarises each kind',
    () => {
      expect(fgo('trace', 'check', 'traces/requests/azure-llm.csv').out.trim()).toBe(
        'traces/requests/azure-llm.csv: request trace, 8819 requests, 1 profile, t_ms 0–3435948.056 (span 57.3 min), total cpu 97.0 min',
      );
      expect(fgo('trace', 'check', 'traces/psi/stress-2cpu-host.csv').out.trim()).toBe(
        'traces/psi/stress-2cpu-host.csv: psi trace, 320 rows, system-wide, t_ms 1795751836032–1795752169369 (span 5.6 min), 24 PSI columns (+ phase,cpu_busy_jiffies,cpu_idle_jiffies,mem_available_kb)',
      );
      const j = JSON.parse(fgo('trace', 'check', 'traces/demand/azure-functions-2019.csv', '--json').out);
      expect(j).toEqual({
        ok: true,
        file: 'traces/demand/azure-functions-2019.csv',
        kind: 'demand',
        rows: 905,
        skipped: 0,
        unit: 's',
        span_s: 13740,
        t_first: 0,
        t_last: 13740,
        profiles: 4,
        total_count: 4525,
      });
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it('lists every problem with file:line:col and exits 1', () => {
    const f = tmpFile('d.csv', 't_s,profile,count\n0,a,1\n60,b,-1\n30,,2\n');
    const r = fgo('trace', 'check', f);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([
      `${f}:3:3: column count: must not be negative, got -1`,
      `${f}:4:2: column profile: is empty`,
    ]);
    expect(JSON.parse(fgo('trace', 'check', f, '--json').out)).toEqual({
      ok: false,
      problems: [`${f}:3:3: column count: must not be negative, got -1`, `${f}:4:2: column profile: is empty`],
    });
  });

  it('an unknown header names the file and what was expected', () => {
    const r = fgo('trace', 'check', 'traces/nab/nyc_taxi.csv');
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      'traces/nab/nyc_taxi.csv:1:1: not a trace: the header "timestamp,value" is none of: a demand trace "t_s,profile,count"',
    );
    expect(fgo('trace', 'check', '/nonexistent.csv').err).toContain('/nonexistent.csv: cannot read: ENOENT');
  });
});
