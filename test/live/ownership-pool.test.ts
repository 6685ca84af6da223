/**
 * Pool mode with --enforce touches only what fgo can prove it started or created (live/ownership.ts),
 * for real on this host's v1 cpuset hierarchy. Before, recovery SIGKILLed every process under
 * cgroup_parent as an "orphaned worker". Here, under the test's cgroup_parent:
 *
 * - a foreign `sleep` in the parent group itself and another in a foreign group named like one of
 *   fgo's (`echo-9`), which fgo never created;
 * - fgo's own orphan: a worker that ignores stdin EOF, left running by an agent killed with -9;
 * - a forged record in owned.json naming the first foreign sleep's pid with a wrong start time.
 *
 * The restarted agent stops its orphan (pid AND start time match its record), and leaves both
 * sleeps, the foreign group and the forged pid alone, saying so once. Needs root and the v1
 * cpuset hierarchy; skipped with the reason elsewhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostSupportsAgentTests } from './fixtures.ts';
import {
  CPUSET_ROOT,
  harness,
  running,
  startAgent,
  state,
  stopAgent,
  teardown,
  until,
  writePoolConfig,
  type Harness,
} from './pool-helpers.ts';

const SKIP = hostSupportsAgentTests();
const TEST_MS = 90_000;

/** Ready at once, then deaf to stdin EOF: survives its agent's death, as a misbehaving worker would. */
const STUBBORN =
  'process.stdout.write(JSON.stringify({type:"ready"})+"\\n"); process.stdin.on("data",()=>{}); process.stdin.on("end",()=>{}); setInterval(()=>{},1000)';

let h: Harness;
let strays: number[] = [];
beforeEach(() => {
  h = harness();
  strays = [];
});
afterEach(async () => {
  for (const pid of strays)
    if (running(pid))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await teardown(h);
}, 40_000);

/** A v1 cpuset group with its parent's CPUs and nodes (v1 needs both before a task may join). */
function makeGroup(dir: string): void {
  mkdirSync(dir);
  const parent = join(dir, '..');
  for (const f of ['cpuset.mems', 'cpuset.cpus'])
    writeFileSync(join(dir, f), readFileSync(join(parent, f), 'utf8').trim() || '\n');
}

function foreignSleep(group: string): ChildProcess {
  const c = spawn('/bin/sleep', ['300'], { stdio: 'ignore' });
  h.extra.push(c);
  writeFileSync(join(group, 'cgroup.procs'), String(c.pid));
  return c;
}

const starttime = (pid: number) =>
  Number(
    readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ')[19],
  );
const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;

describe.skipIf(SKIP)(`pool mode --enforce and what is not fgo's${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it(
    'stops only its own orphan (pid + start time); foreign processes, a foreign group and a forged record are left alone',
    async () => {
      const parent = join(CPUSET_ROOT, h.parent);
      makeGroup(parent);
      makeGroup(join(parent, 'echo-9'));
      const inParent = foreignSleep(parent);
      const inForeignGroup = foreignSleep(join(parent, 'echo-9'));

      writePoolConfig(h, {
        pool: { workers: { echo: { command: [process.execPath, '-e', STUBBORN] } } },
        engine: { profiles: { echo: { pool: { min: 1, target: 1, max: 1 } } } },
      });
      let a = await startAgent(h, { enforce: true });
      const worker = await until(
        async () => (await state(h, a)).pool.workers.find((w: { state: string }) => w.state === 'ready'),
        20_000,
        'a ready worker',
      );
      strays.push(worker.pid);
      const ledger = JSON.parse(readFileSync(join(h.stateDir, 'owned.json'), 'utf8'));
      expect(ledger.workers).toEqual([
        { pid: worker.pid, starttime: starttime(worker.pid), fragment: worker.fragment, profile: 'echo' },
      ]);
      expect(ledger.groups).toEqual([join(parent, worker.fragment)]);

      expect(await stopAgent(a, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      await new Promise((r) => setTimeout(r, 500));
      expect(running(worker.pid)).toBe(true); // deaf to EOF: an orphan only fgo's record can name

      // A record naming a foreign process with the wrong start time must not make it ours.
      ledger.workers.push({
        pid: inParent.pid,
        starttime: starttime(inParent.pid as number) + 1,
        fragment: 'echo-5',
        profile: 'echo',
      });
      writeFileSync(join(h.stateDir, 'owned.json'), JSON.stringify(ledger));

      a = await startAgent(h, { enforce: true });
      await until(() => !running(worker.pid), 15_000, `fgo's orphan ${worker.pid} to be stopped`);
      await until(
        async () => (await state(h, a)).pool.workers.some((w: { state: string }) => w.state === 'ready'),
        20_000,
        'the new worker',
      );
      for (const c of [inParent, inForeignGroup]) expect(running(c.pid as number), `foreign sleep ${c.pid}`).toBe(true);
      expect(readFileSync(join(parent, 'echo-9', 'cgroup.procs'), 'utf8').trim()).toBe(String(inForeignGroup.pid));
      expect(readFileSync(join(parent, 'cgroup.procs'), 'utf8').trim().split('\n')).toContain(String(inParent.pid));

      const log = a.stderr();
      expect(
        count(
          log,
          new RegExp(
            `stopping orphaned worker pid ${worker.pid} of ${worker.fragment} \\(started by a previous run: pid and start time`,
          ),
        ),
      ).toBe(1);
      expect(
        count(
          log,
          new RegExp(`left alone: processes ${inForeignGroup.pid} in ${join(parent, 'echo-9')}, not started by fgo`),
        ),
      ).toBe(1);
      expect(count(log, new RegExp(`left alone: cpuset group ${join(parent, 'echo-9')}, not created by fgo`))).toBe(1);
      expect(log).not.toMatch(new RegExp(`orphaned worker pid ${inParent.pid}`));
      // the forged record is dropped (start time did not match), the orphan's too (stopped)
      const after = JSON.parse(readFileSync(join(h.stateDir, 'owned.json'), 'utf8'));
      expect(after.workers.map((w: { pid: number }) => w.pid)).not.toContain(inParent.pid);
      expect(after.workers.map((w: { pid: number }) => w.pid)).not.toContain(worker.pid);
      expect(await stopAgent(a)).toEqual({ code: 0, signal: null });
      // a clean stop removes fgo's own groups and nothing else
      await until(
        () => JSON.parse(readFileSync(join(h.stateDir, 'owned.json'), 'utf8')).groups.length === 0 || undefined,
        5_000,
        'own groups removed',
      );
      expect(readFileSync(join(parent, 'echo-9', 'cgroup.procs'), 'utf8').trim()).toBe(String(inForeignGroup.pid));
    },
    TEST_MS,
  );
});
