/**
 * `fgo scorecard` end to end: the real `bin/fgo.mjs` in child processes, on 2 short scenarios
 * (20 simulated seconds) × 2 policies. The table (at most 100 columns) and the files appear;
 * --json parses and is scorecard.json plus paths; a second run replaces its own earlier output;
 * bad flags exit 2 naming every problem, before anything is run or written.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, fgoAsync } from './fgo.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-cli-scorecard-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const fgo = (...args: string[]) => fgoAsync(['scorecard', ...args]);

const RUN = [
  '--scenarios',
  'default,psi-replay-1n',
  '--policies',
  'engine,least-loaded',
  '--duration',
  '20s',
  '--workers',
  '2',
];

describe('fgo scorecard', () => {
  it(
    'prints the verdict table, then where the files are; a rerun replaces its own output',
    async () => {
      const out = join(TMP, 'table');
      const r = await fgo(...RUN, '--out', out);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toBe(''); // no progress bar off a terminal
      const lines = r.out.trimEnd().split('\n');
      for (const l of lines.filter((x) => !x.includes(TMP))) expect(l.length, l).toBeLessThanOrEqual(100);
      expect(lines[0]).toBe('fgo scorecard: 2 scenarios × 2 policies on identical arrivals, runs of ≤ 20 simulated s');
      for (const s of ['default', 'psi-replay-1n']) {
        const at = lines.findIndex((l) => l.startsWith(`${s}: `));
        expect(lines[at]).toMatch(/: (engine WINS|engine LOSES|NO VERDICT)$/);
        expect(lines[at + 2]).toMatch(/^ {2}SLO miss ratio \* +least-loaded +\S+ +\S+ +\S+ +(win|loss|tie)$/);
        expect(lines[at + 3]).toMatch(/^ {2}p99 latency, ms \* +least-loaded /);
      }
      expect(r.out).toMatch(/^the engine wins \d of 2 scenarios/m);
      expect(r.out).toContain(`run directories: ${out}/{default,psi-replay-1n}/{engine,least-loaded}`);
      expect(r.out).toContain(`scorecard: ${join(out, 'scorecard.json')}`);
      expect(r.out).toMatch(
        new RegExp(`^report: ${join(out, 'report.html')} \\(\\d+\\.\\d MB; opens offline in a browser\\)$`, 'm'),
      );
      expect(r.out).toMatch(/^4 runs on 2 worker threads in [\d.]+ s$/m);
      expect(readdirSync(out).sort()).toEqual([
        '.fgo-output',
        'default',
        'psi-replay-1n',
        'report.html',
        'scorecard.json',
      ]);
      expect(readdirSync(join(out, 'default')).sort()).toEqual(['engine', 'least-loaded']);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html).toContain('id="verdict-grid"');
      expect(html).toContain('<details class="section" data-section="psi-replay-1n" data-lazy>');

      // The same directory again: an earlier scorecard is replaced, not refused.
      const again = await fgo(...RUN, '--workers', '0', '--out', out);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toContain('4 runs on this thread');
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    '--json prints one object: scorecard.json plus the paths and the wall time',
    async () => {
      const out = join(TMP, 'json');
      const r = await fgo(...RUN, '--out', out, '--json');
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out) as Record<string, unknown> & {
        paths: { report: string; runs: Record<string, Record<string, string>> };
        wall_s: number;
        workers: number;
      };
      const { paths, wall_s, workers, report_bytes, ...doc } = j;
      expect(doc).toEqual(JSON.parse(readFileSync(join(out, 'scorecard.json'), 'utf8')));
      expect(paths).toEqual({
        dir: out,
        scorecard: join(out, 'scorecard.json'),
        report: join(out, 'report.html'),
        runs: {
          default: { engine: join(out, 'default/engine'), 'least-loaded': join(out, 'default/least-loaded') },
          'psi-replay-1n': {
            engine: join(out, 'psi-replay-1n/engine'),
            'least-loaded': join(out, 'psi-replay-1n/least-loaded'),
          },
        },
      });
      expect(workers).toBe(2);
      expect(wall_s).toBeGreaterThan(0);
      expect(report_bytes).toBeGreaterThan(100_000);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});

describe('bad flags: exit 2, every problem named, nothing run or written', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('unknown scenario and policy, a bad duration and a bad worker count, all at once', async () => {
    const out = join(TMP, 'never');
    const r = await fgo(
      '--scenarios',
      'default,nope',
      '--policies',
      'engine,fifo',
      '--duration',
      '5 minutes',
      '--workers',
      '-1',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^--duration: '5 minutes' is not a duration/m);
    expect(r.err).toMatch(/^--workers: '-1' is not a whole number/m);
    expect(r.err).toMatch(/^--policies: 'fifo' is not one of engine, /m);
    expect(r.err).toMatch(/^scenario 'nope': neither a bundled scenario/m);
    expect(existsSync(out)).toBe(false);
  });

  it('policies without the engine: says the verdict needs it', async () => {
    const r = await fgo('--scenarios', 'default', '--policies', 'random,numad', '--out', join(TMP, 'never2'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('--policies: must include engine: the verdict compares the engine with the best baseline');
  });

  it('a non-empty directory that is not a scorecard is left alone, saying how to proceed', async () => {
    const out = join(TMP, 'someone-elses');
    mkdirSync(out);
    writeFileSync(join(out, 'data.csv'), 'precious\n');
    const r = await fgo('--scenarios', 'default', '--policies', 'engine,numad', '--duration', '5s', '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `--out ${out}: exists, is not empty and was not written by fgo (no .fgo-output in it), so it is left alone`,
    );
    expect(r.err).toContain('name a new directory, or add --force to replace it and everything in it');
    expect(readdirSync(out)).toEqual(['data.csv']);
    expect(readdirSync(TMP).filter((n) => n.startsWith('someone-elses.tmp'))).toEqual([]);
  });

  it('--help shows the examples and the rule', async () => {
    const r = await fgo('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: fgo scorecard');
    expect(r.out).toContain('Examples:');
    expect(r.out).toMatch(
      /\$ fgo scorecard --scenarios default,burst-2n --policies engine,least-loaded,numad --duration 60s/,
    );
    for (const o of ['--scenarios', '--policies', '--duration', '--workers', '--out', '--json'])
      expect(r.out).toContain(o);
    expect(r.out).toContain('the engine wins a scenario iff');
  });
});
