/**
 * Garbage in, a located error out: every input the run commands take is checked against what it
 * names and against bounds on the work it asks for, before anything runs. Most cases call the CLI's
 * own preparation in this process (cli/sim.ts `prepare`, the function `fgo sim` calls); the
 * process-level behaviours (exit codes, one-line errors, EPIPE, a dump without proc/) spawn
 * bin/fgo.mjs.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepare, type SimFlags } from '../../cli/prepare.ts';
import { loadTopology } from '../../sim/scenario-inputs.ts';
import { reportUnexpected } from '../../cli/fail.ts';
import { inputProblems, unpackHwlocDump } from '../helpers.ts';
import { CLI_TEST_TIMEOUT_MS, fgoAsync, ROOT } from './fgo.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-cli-inputs-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let n = 0;
function file(name: string, text: string): string {
  const d = join(TMP, `f${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, name), text);
  return join(d, name);
}
/** The problems `prepare` reports for these flags (and its exit code, 2 for every bad run input). */
function problems(f: SimFlags): string[] {
  let code = 0;
  const p = inputProblems(() => {
    try {
      return prepare(f);
    } catch (e) {
      code = (e as { exitCode?: number }).exitCode ?? 0;
      throw e;
    }
  });
  expect(code).toBe(2);
  return p;
}
const scenario = (o: object) =>
  file('s.json', `${JSON.stringify({ name: 't', duration: '1m', topology: '2n-32c', ...o }, null, 2)}\n`);

describe('scenarios naming what the run does not have', () => {
  it('a fault on a node the topology lacks', () => {
    expect(problems({ scenario: scenario({ faults: [{ kind: 'cpu_offline', at: '10s', node: 9 }] }) })).toEqual([
      'scenario t: faults.0.node: node 9 is not in topology 2n-32c (nodes 0, 1)',
    ]);
  });

  it('a fault on a profile neither the catalogue nor a trace has', () => {
    const s = scenario({
      profiles: { api: { arrival: { kind: 'poisson', rate_per_s: 1 } } },
      faults: [{ kind: 'crash', at: '10s', profile: 'db' }],
    });
    expect(problems({ scenario: s })).toEqual([
      "scenario t: faults.0.profile: 'db' is neither in the scenario's profiles nor in its traces (api)",
    ]);
  });

  it('a fault with neither an instant nor a rate', () => {
    expect(problems({ scenario: scenario({ faults: [{ kind: 'crash', profile: '*' }] }) })).toContain(
      "scenario t: faults.0: needs 'at' (an instant) or 'rate_per_h' (a rate); it would never be injected",
    );
  });

  it('a fault at or after the end of the run, located in the file', () => {
    const s = scenario({ faults: [{ kind: 'cpu_offline', at: '2m', node: 0 }] });
    expect(problems({ scenario: s })).toEqual([
      `${s}:8:13: faults.0.at: 2m is not before the end of the run (duration 1m); the fault would never be injected`,
    ]);
  });

  it('a profile whose home is a node the topology lacks', () => {
    expect(problems({ scenario: scenario({ profiles: { api: { home: 5 } } }) })).toEqual([
      'scenario t: profiles.api.home: node 5 is not in topology 2n-32c (nodes 0, 1)',
    ]);
  });
});

describe('bounds on the work a run asks for', () => {
  it('absurd rates and periods are refused with the field and the limit', () => {
    const s = scenario({
      profiles: {
        a: { arrival: { kind: 'poisson', rate_per_s: 1e9 } },
        b: { arrival: { kind: 'periodic', period_s: 1e-9 } },
        c: { arrival: { kind: 'bursty', on_rate_per_s: 0, off_rate_per_s: 0, mean_on_s: 1e-12, mean_off_s: 1 } },
      },
    });
    const p = problems({ scenario: s });
    expect(p).toEqual([
      expect.stringMatching(
        new RegExp(`^${s}:\\d+:\\d+: profiles\\.a\\.arrival\\.rate_per_s: Too big: expected number to be <=1000000$`),
      ),
      expect.stringMatching(
        new RegExp(`^${s}:\\d+:\\d+: profiles\\.b\\.arrival\\.period_s: Too small: expected number to be >=0\\.001$`),
      ),
      expect.stringMatching(
        new RegExp(`^${s}:\\d+:\\d+: profiles\\.c\\.arrival\\.mean_on_s: Too small: expected number to be >=0\\.001$`),
      ),
      // 1e9/s for a minute is 6e10 events, the timer 6e10 more: over the limit too.
      `${s}:3:15: duration: the arrival processes would generate about 1.20e+11 events over 1m, over the limit of 3e+8: lower the rates or the duration`,
    ]);
  });

  it('rates that are each fine but over a long run would generate too many events: the duration is named', () => {
    // 2,000/s of Poisson arrivals for 200 days: 3.5e10 events, over 3e8.
    const s = scenario({ duration: '200d', profiles: { a: { arrival: { kind: 'poisson', rate_per_s: 2000 } } } });
    expect(problems({ scenario: s })).toEqual([
      `${s}:3:15: duration: the arrival processes would generate about 3.46e+10 events over 200d, over the limit of 3e+8: lower the rates or the duration`,
    ]);
  });

  it('flags: a duration over 366 days, a seed that is not a whole number, --psi-mode without --psi', () => {
    expect(problems({ duration: '1000000000h' })).toEqual([
      "--duration: '1000000000h' is over the limit of 366 days (31622400 s)",
    ]);
    expect(problems({ seed: '1.5' })).toEqual(["--seed: '1.5' is not a whole number from 0 to 9007199254740991"]);
    expect(problems({ seed: '99999999999999999' })).toEqual([
      "--seed: '99999999999999999' is not a whole number from 0 to 9007199254740991",
    ]);
    expect(problems({ psiMode: 'replace' })).toEqual([
      '--psi-mode: needs --psi FILE (or a scenario with a psi trace); scenario default has none',
    ]);
    expect(prepare({ scenario: 'psi-replay-1n', psiMode: 'replace' }).psi?.mode).toBe('replace');
  });

  it('a null config, a scenario nested 10,000 deep', () => {
    expect(problems({ config: file('c.json', 'null\n') })).toEqual([
      expect.stringMatching(
        /c\.json:1:1: \(top level\): expected an object \(use \{\} for the design defaults\), got null$/,
      ),
    ]);
    // The outer object is level 1: the 64th '[' (offset 21 + 63) is level 65, column 85.
    const deep = file('deep.json', `{"name":"t","engine":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(problems({ scenario: deep })).toEqual([`${deep}:1:85: JSON nested deeper than 64 levels`]);
  });
});

describe('topologies', () => {
  let dump = '';
  beforeAll(() => {
    dump = unpackHwlocDump('16amd64-8n2c', TMP);
  }, CLI_TEST_TIMEOUT_MS);

  it(
    'a dump with sys/ but no proc/ reads as hwloc reads it (topology and sysfs:)',
    async () => {
      const sysOnly = join(TMP, 'sys-only');
      mkdirSync(sysOnly);
      cpSync(join(dump, 'sys'), join(sysOnly, 'sys'), { recursive: true });
      const t = loadTopology(`sysfs:${sysOnly}`);
      expect(t.nodes.map((x) => [x.id, x.cpus.length])).toEqual([
        [0, 2],
        [1, 2],
        [2, 2],
        [3, 2],
        [4, 2],
        [5, 2],
        [6, 2],
        [7, 2],
      ]);
      expect(t.json).toEqual(loadTopology(`sysfs:${dump}`).json);
      const r = await fgoAsync(['topology', '--fs-root', sysOnly, '--json']);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).nodes).toHaveLength(8);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'a sysfs that yields no CPUs is refused (fgo topology and --topology sysfs:)',
    async () => {
      const empty = join(TMP, 'no-cpus');
      mkdirSync(join(empty, 'sys/devices/system/cpu'), { recursive: true });
      expect(inputProblems(() => loadTopology(`sysfs:${empty}`))).toEqual([
        `sysfs:${empty}: the topology has no CPUs (nodes 0); nothing could run on it`,
      ]);
      const r = await fgoAsync(['topology', '--fs-root', empty]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`${join(empty, 'sys')}: the topology has no CPUs (nodes 0); nothing could run on it`);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});

describe('the process: exit codes and one-line errors', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('--workers must be a whole number from 0 to 64 (tune and scorecard): exit 2', async () => {
    for (const [cmd, w] of [
      ['tune', '-1'],
      ['tune', '1.5'],
      ['scorecard', '65'],
    ] as const) {
      const r = await fgoAsync([cmd, '--workers', w, '--out', join(TMP, `w${n++}`)]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--workers: '${w}' is not a whole number from 0 (every run in this thread) to 64`);
    }
  });

  it('an error nobody anticipated is one line and exit 1; FGO_DEBUG=1 adds the stack', () => {
    // Every error the commands anticipate is an InputError; this is the handler for the rest.
    const lines: string[] = [];
    const write = process.stderr.write;
    const exitCode = process.exitCode;
    const debug = process.env.FGO_DEBUG;
    process.stderr.write = ((chunk: string) => lines.push(chunk) > 0) as typeof process.stderr.write;
    try {
      delete process.env.FGO_DEBUG;
      reportUnexpected(Object.assign(new Error('disk on fire\nsecond line'), { code: 'EIO' }));
      expect([lines[0], process.exitCode]).toEqual(['fgo: error: disk on fire (EIO) (FGO_DEBUG=1 shows where)\n', 1]);
      process.env.FGO_DEBUG = '1';
      reportUnexpected(new Error('disk on fire'));
      expect(lines[1]).toMatch(/^Error: disk on fire\n\s+at /);
    } finally {
      process.stderr.write = write;
      process.exitCode = exitCode;
      if (debug === undefined) delete process.env.FGO_DEBUG;
      else process.env.FGO_DEBUG = debug;
    }
  });

  it('a listen address that is not host:port is a usage error: one line, exit 2', async () => {
    const r = await fgoAsync(['sim', '--duration', '1s', '--serve', 'nonsense', '--out', join(TMP, 'never')]);
    expect([r.code, r.err]).toEqual([
      2,
      '--serve: listen address "nonsense": expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (IPv6 in brackets)\n',
    ]);
  });

  it('a reader that goes away (| head): exit 0 and nothing on stderr', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/fgo.mjs'), 'demo', '--json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // closed before the first line is written: every write fails with EPIPE
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect({ code, err }).toEqual({ code: 0, err: '' });
  });
});
