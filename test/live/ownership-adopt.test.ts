/**
 * Adopt rules that a local user cannot satisfy by naming a process (live/selectors.ts), for real:
 * a copy of /bin/sleep renamed `stress-ng`, run as `nobody` through setpriv, matches the command
 * line of a `stress-ng` rule but not its uid (0) or its exe (/usr/bin/stress-ng), so it is never
 * adopted nor given a CPU; the same copy run by root matches the uid rule and is adopted, which
 * shows the rule works. A rule on the command line alone is still accepted, with a warning at
 * start that it can be spoofed. Needs root, setpriv and the v1 cpuset hierarchy; skipped with the
 * reason elsewhere.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cpusAllowed, hostSupportsAgentTests, managedOf, sleep, TestWorld, waitFor } from './fixtures.ts';

const NOBODY = 65_534;
const SKIP =
  hostSupportsAgentTests() ?? (spawnSync('setpriv', ['--version']).status === 0 ? undefined : 'setpriv not available');
const T = 60_000;
const ENGINE = {
  placement: { jitter: false, min_shared_cpus: 0 },
  profiles: { pinned: { cpus: 1, memory_kb: 1024, exclusive_cpus: 1 } },
};

let w: TestWorld;
const started: ChildProcess[] = [];
beforeEach(() => {
  w = new TestWorld();
});
afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await w.cleanup();
});

/** /bin/sleep copied to DIR/bin/stress-ng, reachable and runnable by `nobody`. */
function fakeStressNg(): string {
  const bin = join(w.dir, 'bin');
  mkdirSync(bin);
  chmodSync(w.dir, 0o755);
  const exe = join(bin, 'stress-ng');
  copyFileSync('/bin/sleep', exe);
  chmodSync(exe, 0o755);
  return exe;
}

function run(argv: string[]): ChildProcess {
  const c = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
  started.push(c);
  return c;
}

const uidsOf = (pid: number) =>
  /^Uid:\s+(\d+)\s+(\d+)/m
    .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    ?.slice(1, 3)
    .map(Number);

describe.skipIf(SKIP)(`adopt rules that cannot be spoofed${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('a renamed sleep run as nobody is not adopted under rules requiring uid 0 or an exe path; run by root it is', {
    timeout: T,
  }, async () => {
    const exe = fakeStressNg();
    const seconds = `3${w.tag.replace(/\D/g, '').slice(0, 3) || '0'}`; // a marker of this test in the command line
    const byNobody = run(['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', exe, seconds]);
    await waitFor('the process to run as nobody', () => {
      try {
        return (
          uidsOf(byNobody.pid as number)?.join(',') === `${NOBODY},${NOBODY}` &&
          readFileSync(`/proc/${byNobody.pid}/cmdline`, 'utf8').startsWith(exe)
        );
      } catch {
        return false;
      }
    });
    const before = cpusAllowed(byNobody.pid as number);
    const cmdline = `^(\\S*/)?stress-ng ${seconds}$`;
    const cfg = w.config(ENGINE, {
      adopt: {
        scan_interval_ms: 200,
        rules: [
          { profile: 'pinned', cmdline, uid: 0 },
          { profile: 'pinned', cmdline, exe: '/usr/bin/stress-ng' },
        ],
      },
    });
    const agent = await w.agent(cfg);
    const byRoot = run([exe, seconds]);
    const m = await waitFor('the root-run copy to be adopted', async () => {
      const list = await managedOf(agent);
      return list.some((e) => e.pid === byRoot.pid) ? list : undefined;
    });
    await sleep(1_000); // five more scans at 200 ms
    const after = await managedOf(agent);
    expect(m.map((e) => e.pid)).toEqual([byRoot.pid]);
    expect(after.map((e) => e.pid)).toEqual([byRoot.pid]);
    expect(cpusAllowed(byNobody.pid as number)).toBe(before);
    expect(agent.stderr()).not.toMatch(/matches on the command line only/);
  });

  it('a rule on the command line alone is accepted with a warning that it can be spoofed', { timeout: T }, async () => {
    const agent = await w.agent(
      w.config(ENGINE, {
        adopt: { scan_interval_ms: 200, rules: [{ profile: 'pinned', cmdline: `^no-such-program-${w.tag}` }] },
      }),
    );
    await waitFor('the warning', () =>
      /warning: adopt\.rules\.0 \(profile pinned\) matches on the command line only: any local user can name a process to match it/.test(
        agent.stderr(),
      ),
    );
  });
});
