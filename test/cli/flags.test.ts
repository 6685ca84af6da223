/**
 * One flag name per meaning (cli/flag-aliases.ts): the singular takes one value, the plural a list
 * that may be repeated; the other spelling is a hidden alias that warns, or refuses several values
 * with exit 2. Option parsing is checked in process (the commands' actions replaced), exit codes
 * and messages through the real bin/fgo.mjs.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../cli/main.ts';
import { CLI_TEST_TIMEOUT_MS, fgoSync, ROOT } from './fgo.ts';
import { tmpFile } from '../helpers.ts';

afterEach(() => vi.restoreAllMocks());

/** The options `fgo ARGS…` would hand its command, and what it wrote to stderr; nothing runs. */
async function parsed(...args: string[]): Promise<{ o: Record<string, unknown>; err: string; thrown?: unknown }> {
  const program = buildProgram();
  const path = args[0] === 'tune' && args[1] === 'merge' ? 2 : 1;
  let cmd = program.commands.find((c) => c.name() === args[0]) as Command;
  if (path === 2) cmd = cmd.commands.find((c) => c.name() === 'merge') as Command;
  let o: Record<string, unknown> = {};
  cmd.action((opts: Record<string, unknown>) => void (o = opts));
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    await program.parseAsync(['node', 'fgo', ...args]);
  } catch (e) {
    return { o, err, thrown: e };
  }
  return { o, err };
}

describe('--scenarios (a list) and --scenario (one)', () => {
  it('scorecard and tune take --scenarios repeated, joined in order', async () => {
    expect((await parsed('scorecard', '--scenarios', 'default', '--scenarios', 'burst-2n,faults-8n')).o.scenarios).toBe(
      'default,burst-2n,faults-8n',
    );
    expect((await parsed('tune', '--scenarios', 'a.json', '--scenarios', 'b.json', '--out', 'x')).o.scenarios).toBe(
      'a.json,b.json',
    );
  });

  it('scorecard and tune read --scenario as --scenarios, with a warning', async () => {
    const r = await parsed('scorecard', '--scenario', 'default');
    expect(r.o.scenarios).toBe('default'); // not the default 'all' plus it
    expect(r.err).toBe(
      'warning: fgo scorecard: --scenario is read as --scenarios (this command takes a list of scenarios: --scenarios A,B)\n',
    );
    expect((await parsed('tune', '--scenarios', 'a', '--scenario', 'b', '--out', 'x')).o.scenarios).toBe('a,b');
  });

  it('without either flag the default stays, and nothing is said', async () => {
    const r = await parsed('scorecard');
    expect(r.o.scenarios).toBe('all');
    expect(r.err).toBe('');
  });

  it('sim, compare and tradeoff read a single --scenarios as --scenario, with a warning', async () => {
    for (const cmd of ['sim', 'compare', 'tradeoff']) {
      const r = await parsed(cmd, '--scenarios', 'burst-2n');
      expect(r.o.scenario, cmd).toBe('burst-2n');
      expect(r.err, cmd).toBe(
        `warning: fgo ${cmd}: --scenarios is read as --scenario (this command takes one scenario)\n`,
      );
    }
  });

  it('sim refuses several --scenarios, naming the command that runs several', async () => {
    const r = await parsed('sim', '--scenarios', 'default,burst-2n');
    expect(r.thrown).toBeDefined();
    expect(r.err).toContain(
      'error: fgo sim takes one scenario (--scenario), not 2; fgo scorecard runs several (--scenarios A,B)',
    );
  });
});

describe('--traces (a list) and --trace (one)', () => {
  it('dataset and train take --traces repeated, and read --trace as one more, with a warning', async () => {
    expect((await parsed('dataset', '--traces', 'a.csv', 'b.csv', '--traces', 'c.csv', '--out', 'o')).o.traces).toEqual(
      ['a.csv', 'b.csv', 'c.csv'],
    );
    const r = await parsed('train', '--trace', 'a.csv', '--traces', 'b.csv', '--out', 'o');
    expect(r.o.traces).toEqual(['a.csv', 'b.csv']);
    expect(r.err).toBe(
      'warning: fgo train: --trace is read as --traces (this command takes a list of traces: --traces A B)\n',
    );
  });

  it('predict-eval reads one --traces as --trace, and refuses two', async () => {
    const one = await parsed('predict-eval', '--model', 'm.onnx', '--traces', 'a.csv');
    expect(one.o.trace).toBe('a.csv');
    expect(one.err).toBe('warning: fgo predict-eval: --traces is read as --trace (this command takes one trace)\n');
    const two = await parsed('predict-eval', '--model', 'm.onnx', '--traces', 'a.csv', 'b.csv');
    expect(two.thrown).toBeDefined();
    expect(two.err).toContain('error: fgo predict-eval takes one trace (--trace), not 2; run it once per trace');
  });
});

describe('--model is always an ONNX file; --json everywhere', () => {
  it('train --model (once a model kind) is a usage error that says what to use', async () => {
    const r = await parsed('train', '--traces', 'a.csv', '--model', 'gbt', '--out', 'o');
    expect(r.thrown).toBeDefined();
    expect(r.err).toContain('error: fgo train --model: train has no model kinds any more');
    expect(r.err).toContain('train writes one with --out');
  });

  it('every command accepts --json', () => {
    const missing: string[] = [];
    const walk = (c: Command, path: string) => {
      for (const s of c.commands) {
        const name = `${path} ${s.name()}`.trim();
        if ((s.commands.length === 0 || s.options.length > 0) && !s.options.some((o) => o.long === '--json'))
          missing.push(name);
        walk(s, name);
      }
    };
    walk(buildProgram(), '');
    expect(missing).toEqual([]);
  });
});

describe('through bin/fgo.mjs: exit codes', () => {
  it(
    'several --scenarios to sim, two --traces to predict-eval and train --model exit 2 and write nothing',
    () => {
      const out = join(mkdtempSync(join(tmpdir(), 'fgo-flags-')), 'run');
      const sim = fgoSync(['sim', '--scenarios', 'default,burst-2n', '--duration', '5s', '--out', out]);
      expect(sim.code).toBe(2);
      expect(sim.err).toContain('fgo sim takes one scenario (--scenario), not 2');
      expect(
        fgoSync([
          'predict-eval',
          '--model',
          'models/demand.onnx',
          '--traces',
          'traces/demand/nyc_taxi.csv',
          'traces/demand/nyc_taxi.csv',
        ]).code,
      ).toBe(2);
      expect(
        fgoSync(['train', '--traces', 'traces/demand/nyc_taxi.csv', '--model', 'gbt', '--out', join(out, 'm.onnx')])
          .code,
      ).toBe(2);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'an alias that is read warns on stderr and the command runs (exit 0)',
    () => {
      const a = tmpFile('a.csv', 't_s,profile,count\n0,api,1\n60,api,2\n120,api,3\n180,api,4\n');
      const out = join(mkdtempSync(join(tmpdir(), 'fgo-flags-')), 'd.csv');
      const r = fgoSync(['dataset', '--trace', a, '--traces', a, '--out', out, '--json'], { cwd: ROOT });
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain('--trace is read as --traces');
      const rows = JSON.parse(r.out).rows as number;
      expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(rows + 1);
      // The same trace twice gives twice the rows of once.
      const once = fgoSync(['dataset', '--traces', a, '--out', `${out}.1`, '--json']);
      expect(rows).toBe(2 * (JSON.parse(once.out).rows as number));
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
