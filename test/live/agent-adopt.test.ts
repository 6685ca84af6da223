/**
 * The live agent in adopt mode, end to end on this host's real kernel: the real CLI (`bin/fgo.mjs
 * live … --enforce`) in a child process adopting marked node processes, every placement checked
 * from OUTSIDE the agent (/proc/PID/status of every thread, `taskset -p`, /proc/PID/cgroup), a
 * two-node sysfs view of this two-CPU host, a process exiting mid-placement, kill -9 and restart
 * with `fgo replay` of the journal, a dry run, and config validation through the CLI.
 *
 * Each test has its own state_dir, its own cgroup_parent (`fgo-test-<random>`) and its own marker
 * in the processes' command lines, so tests never share cgroups or processes; afterEach kills what
 * the test started, then removes its cpuset groups (test/live/fixtures.ts). Waits poll with a
 * deadline (10 s) rather than sleep, for a loaded 2-core CI machine. Needs root, the v1 cpuset
 * hierarchy at /sys/fs/cgroup/cpuset and CPUs 0 and 1; skipped, with the reason, elsewhere.
 *
 * The profile asks one exclusive CPU per process. `min_shared_cpus: 0` is what lets the engine hand
 * out BOTH CPUs of this one-node host exclusively: by default (1) each node keeps one CPU shared
 * for warm and shared fragments, so the second process would be rejected ("needs 1 exclusive CPUs,
 * 0 can be spared"). Adopt mode has no warm fragments and nothing here is shared, so 0 is safe.
 *
 * These tests found three bugs, since fixed: a zombie main thread taken for an exited process
 * (and the group removal refused meanwhile), and an unknown key hiding the config's other problems.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CpusetGroups } from '../../live/enforce.ts';
import { Executor, type Step } from '../../live/executor.ts';
import { readJournal } from '../../live/journal.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import {
  CPUSET,
  TestWorld,
  alive,
  callsOf,
  cpusAllowed,
  cpusetOf,
  enforcementErrors,
  fgo,
  hostSupportsAgentTests,
  leaderState,
  makeTwoNodeSysfs,
  managedOf,
  tasksetMask,
  threadCpus,
  waitFor,
  type Entry,
  type ManagedEntry,
  type RunningAgent,
} from './fixtures.ts';

const SKIP = hostSupportsAgentTests();
const T = 30_000;
const EXCLUSIVE = {
  placement: { jitter: false, min_shared_cpus: 0 },
  profiles: { solo: { cpus: 1, memory_kb: 1024, exclusive_cpus: 1 } },
};
/** One CPU each, not exclusive: on the two-node view each node has room for exactly one. */
const SHARED = { placement: { jitter: false }, profiles: { solo: { cpus: 1, memory_kb: 1024 } } };

let w: TestWorld;
beforeEach(() => {
  w = new TestWorld();
});
afterEach(async () => {
  await w.cleanup();
});

/** Wait until every pid runs on one CPU of its own, the CPUs together 0 and 1; returns pid → CPU. */
async function disjointSingleCpus(pids: number[]): Promise<Map<number, number>> {
  return waitFor(`pids ${pids.join(', ')} on disjoint single CPUs`, () => {
    const lists = pids.map((p) => cpusAllowed(p));
    if (!lists.every((l) => l !== undefined && /^\d+$/.test(l))) return undefined;
    if ([...lists].sort().join(',') !== '0,1') return undefined;
    return new Map(pids.map((p, i) => [p, Number(lists[i])]));
  });
}

/** Wait until the agent manages exactly `pids`. */
async function managing(a: RunningAgent, pids: number[]): Promise<ManagedEntry[]> {
  return waitFor(`the agent to manage ${pids.join(', ')}`, async () => {
    const m = await managedOf(a);
    return m
      .map((e) => e.pid)
      .sort()
      .join(',') === [...pids].sort().join(',')
      ? m
      : undefined;
  });
}

/** `fgo topology --sysfs-root DIR --json` reads the fixture as two nodes of one CPU each. */
function checkTwoNodeTopology(sys: string): void {
  const t = fgo(['topology', '--sysfs-root', sys, '--json']);
  expect(t.code).toBe(0);
  const topo = JSON.parse(t.out) as {
    nodes: Array<{ id: number; cpus: number[]; memory_kb: number; distances: number[] }>;
  };
  expect(topo.nodes.map((n) => [n.id, n.cpus, n.distances])).toEqual([
    [0, [0], [10, 20]],
    [1, [1], [20, 10]],
  ]);
  expect(topo.nodes[0]?.memory_kb).toBeGreaterThan(0);
}

/** The placement decided for each pid by the engine ('adopt' calls that placed), pid → {node, cpus}. */
function decisions(entries: readonly unknown[]): Map<number, { node: number; cpus: number[] }> {
  const out = new Map<number, { node: number; cpus: number[] }>();
  for (const c of callsOf(entries, 'adopt')) {
    const d = c.out as { action: string; fragment: string; node: number; cpus: number[] };
    if (d.action === 'place') out.set(Number(d.fragment.slice(3)), { node: d.node, cpus: d.cpus });
  }
  return out;
}

/** The executor's steps the agent journalled (notes "enforced" / "dry run: would do"). */
const stepsOf = (entries: readonly unknown[]): Step[] =>
  (entries as Entry[]).filter((e) => e.type === 'note' && Array.isArray(e.data)).flatMap((e) => e.data as Step[]);

describe.skipIf(SKIP)(`fgo live, adopt mode, on this host${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('pins two adopted processes to disjoint single CPUs, every thread and its own cpuset group, seen from outside', {
    timeout: T,
  }, async () => {
    const a = w.spawn({ worker: true }),
      b = w.spawn();
    await a.ready; // the Worker thread exists before the agent looks
    const pids = [a.pid as number, b.pid as number];
    const agent = await w.agent(w.config(EXCLUSIVE));
    const cpu = await disjointSingleCpus(pids);
    for (const pid of pids) {
      const c = cpu.get(pid) as number;
      expect(tasksetMask(pid)).toBe(1 << c); // `taskset -p`: mask 1 (cpu 0) or 2 (cpu 1)
      await waitFor(`pid ${pid} in its cpuset group`, () => cpusetOf(pid) === `/${w.parent}/pid${pid}`);
      expect(readFileSync(join(CPUSET, w.parent, `pid${pid}`, 'cpuset.cpus'), 'utf8').trim()).toBe(String(c));
    }
    // Every thread of the process with a Worker, the Worker thread included, has the process's CPU.
    const threads = threadCpus(a.pid as number);
    expect(threads.size).toBeGreaterThan(1);
    expect(new Set(threads.values())).toEqual(new Set([String(cpu.get(a.pid as number))]));
    const m = await managing(agent, pids);
    for (const e of m) expect(e.cpus).toEqual([cpu.get(e.pid)]);
    expect(enforcementErrors(await agent.getText('/metrics'))).toBe(0);
  });

  it('a two-node sysfs view of this host (--sysfs-root): one process per node, mems of node 1 left to the parent', {
    timeout: T,
  }, async () => {
    // node0 = cpu0, node1 = cpu1, as this host has CPUs 0 and 1 — but only memory node 0.
    const sys = makeTwoNodeSysfs(join(w.dir, 'sys'));
    checkTwoNodeTopology(sys);
    const pids = [w.spawn().pid as number, w.spawn().pid as number];
    const agent = await w.agent(w.config(SHARED), { args: ['--sysfs-root', sys] });
    await managing(agent, pids);
    const d = await waitFor('both processes on the CPU of the node the engine chose', () => {
      const got = decisions(readJournal(agent.journal).entries);
      return pids.every((p) => got.has(p) && cpusAllowed(p) === String(got.get(p)?.node)) && got;
    });
    expect(new Set(pids.map((p) => d.get(p)?.node))).toEqual(new Set([0, 1])); // room for one per node
    for (const p of pids) {
      const { node, cpus } = d.get(p) as { node: number; cpus: number[] };
      expect(cpus).toEqual([node]); // node N's only CPU is cpu N
      await waitFor(`pid ${p} in its cpuset group`, () => cpusetOf(p) === `/${w.parent}/pid${p}`);
      // No memory node 1 on this host: the group keeps its parent's mems (0) rather than failing.
      expect(readFileSync(join(CPUSET, w.parent, `pid${p}`, 'cpuset.mems'), 'utf8').trim()).toBe('0');
    }
    const entries = readJournal(agent.journal).entries;
    const steps = stepsOf(entries);
    const onNode1 = pids.find((p) => d.get(p)?.node === 1);
    expect(
      steps.filter(
        (s) =>
          s.fragment === `pid${onNode1}` &&
          s.op === 'cpuset' &&
          s.detail.includes("mems (parent's: node 1 is not a memory node of this host)"),
      ),
    ).toHaveLength(1);
    expect(steps.filter((s) => !s.ok)).toEqual([]);
    expect((entries as Entry[]).filter((e) => e.type === 'note' && e.level === 'error')).toEqual([]);
    expect(enforcementErrors(await agent.getText('/metrics'))).toBe(0);
  });

  it('a process exiting mid-placement is released, not an error; the agent keeps running', { timeout: T }, async () => {
    const agent = await w.agent(w.config(EXCLUSIVE));
    const long = w.spawn();
    // Short-lived ones, staggered over a few scans: some are caught alive, some while exiting.
    const shorts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = w.spawn({ exitAfterMs: 150 });
      shorts.push(s.pid as number);
      await new Promise((r) => s.once('exit', r));
    }
    const lp = long.pid as number;
    await waitFor(
      'the long-lived process pinned',
      () => /^\d$/.test(cpusAllowed(lp) ?? '') && cpusetOf(lp) === `/${w.parent}/pid${lp}`,
    );
    await waitFor('the short ones out of adopt.managed', async () => {
      const m = await managedOf(agent);
      return m.some((e) => e.pid === lp) && !m.some((e) => shorts.includes(e.pid));
    });
    expect(agent.proc.exitCode).toBeNull();
    expect((await agent.get<{ mode: string }>('/v1/state')).mode).toBe('adopt');
    const entries = readJournal(agent.journal).entries;
    const released = new Set(callsOf(entries, 'release').map((c) => c.args?.[0]));
    const steps = stepsOf(entries);
    // A group whose exiting threads have not left it yet is removed at a later turn, not failed.
    const failed = steps.filter((s) => !s.ok && !s.gone);
    expect(failed).toEqual([]);
    expect(enforcementErrors(await agent.getText('/metrics'))).toBe(0);
    for (const p of shorts) {
      // Adopted (placed) → released since; or never adopted at all.
      if (decisions(entries).has(p)) expect(released.has(`pid${p}`)).toBe(true);
      await waitFor(`group of ${p} removed`, () => !existsSync(join(CPUSET, w.parent, `pid${p}`)));
    }
  });

  // The thread-group leader is a zombie (state Z) while other threads run on — for good after the
  // main thread's pthread_exit (here), for a moment in every exit of a multi-threaded process. The
  // process is alive: it keeps its placement and its group.
  it('a process whose main thread exited while its other threads run on: no enforcement error', {
    timeout: T,
  }, async () => {
    const agent = await w.agent(w.config(EXCLUSIVE));
    const c = w.spawn({ leaderExit: true });
    const pid = c.pid as number;
    await waitFor(
      `pid ${pid} pinned`,
      () =>
        /^\d$/.test(cpusAllowed(pid) ?? '') &&
        readFileSync(join(CPUSET, w.parent, `pid${pid}`, 'cgroup.procs'), 'utf8').trim() === String(pid),
    );
    c.stdin?.write('exit the main thread\n');
    await waitFor('the leader a zombie, the process alive', () => leaderState(pid) === 'Z' && alive(pid));
    const turns = (await agent.get<{ turns: number }>('/v1/state')).turns;
    await waitFor(
      '5 more agent turns (scans included)',
      async () => (await agent.get<{ turns: number }>('/v1/state')).turns >= turns + 5,
    );
    expect(enforcementErrors(await agent.getText('/metrics'))).toBe(0);
  });

  it('Executor.pin on a process that already exited: steps gone and not ok, nothing thrown', {
    timeout: T,
  }, async () => {
    const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const pid = c.pid as number;
    await new Promise((r) => c.once('exit', r));
    await waitFor(`pid ${pid} reaped`, () => !alive(pid));
    const groups = new CpusetGroups({ roots: resolveRoots(), base: w.parent });
    for (const g of [groups, undefined]) {
      const ex = new Executor({
        groups: g,
        enforce: true,
        hostMems: new Set([0]),
        migrateMemory: false,
        procRoot: '/proc',
      });
      const steps = ex.pin(`pid${pid}`, [pid], 0, [0]);
      const perPid = steps.filter((s) => s.pid === pid);
      expect(perPid.map((s) => s.op).sort()).toEqual(g ? ['affinity', 'cpuset'] : ['affinity']);
      for (const s of perPid) expect(s).toMatchObject({ ok: false, gone: true });
      expect(steps.filter((s) => s.pid === undefined).every((s) => s.ok)).toBe(true); // the group itself was made
      expect(ex.remove(`pid${pid}`).every((s) => s.ok)).toBe(true);
    }
  });

  it('kill -9 and restart: processes stay pinned, are re-adopted where they were, and the journal replays', {
    timeout: 60_000,
  }, async () => {
    const cfg = w.config(EXCLUSIVE);
    const pids = [w.spawn().pid as number, w.spawn().pid as number];
    const first = await w.agent(cfg);
    const cpu = await disjointSingleCpus(pids);
    const before = await managing(first, pids);
    // The decisions the first run had made durable before the kill.
    const journalled = await waitFor('both adoptions in the journal', () => {
      const calls = callsOf(readJournal(first.journal).entries, 'adopt');
      return decisions(calls).size === 2 ? calls : undefined;
    });
    await first.stop('SIGKILL');
    for (const p of pids) {
      expect(alive(p)).toBe(true);
      expect(cpusAllowed(p)).toBe(String(cpu.get(p)));
      expect(cpusetOf(p)).toBe(`/${w.parent}/pid${p}`);
    }
    const second = await w.agent(cfg);
    const after = await managing(second, pids);
    const cpusOf = (m: ManagedEntry[]) => Object.fromEntries(m.map((e) => [e.pid, e.cpus]));
    expect(cpusOf(after)).toEqual(cpusOf(before));
    for (const p of pids) expect(cpusAllowed(p)).toBe(String(cpu.get(p)));
    expect(second.stderr()).toMatch(/re-adopted 2 of 2 processes/);
    expect(await second.stop('SIGTERM')).toBe(0);

    const j = readJournal(second.journal);
    expect(j.segments).toHaveLength(2);
    const starts = (j.entries as Entry[]).filter((e) => e.type === 'start');
    expect(starts.map((s) => s.epoch)).toEqual([1, 2]);
    const secondEpoch = (j.entries as Entry[]).slice((j.entries as Entry[]).indexOf(starts[1] as Entry));
    const readopts = callsOf(secondEpoch, 'adopt');
    expect(readopts.map((c) => ((c.args as unknown[])[0] as { id: string }).id).sort()).toEqual(
      pids.map((p) => `pid${p}`).sort(),
    );
    for (const c of readopts) {
      const a = c.args?.[0] as { id: string; at?: { node: number; cpus: number[] } };
      expect(a.at).toEqual({ node: 0, cpus: [cpu.get(Number(a.id.slice(3)))] });
    }
    // Nothing the first run journalled before the kill was lost.
    expect(callsOf(j.entries, 'adopt')).toEqual(expect.arrayContaining(journalled));

    const r = fgo(['replay', second.journal, '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as { epochs: number; calls: number; differences: unknown[] };
    expect(rep.differences).toEqual([]);
    expect(rep.epochs).toBe(2);
    expect(rep.calls).toBeGreaterThan(0);
  });

  it('dry run (no --enforce): decides and says what it would do, changes nothing', { timeout: T }, async () => {
    const pids = [w.spawn().pid as number, w.spawn().pid as number];
    const agent = await w.agent(w.config(EXCLUSIVE), { enforce: false });
    await managing(agent, pids);
    await waitFor('"dry run: would" on stderr', () => agent.stderr().includes('dry run: would'));
    // As numad's log does: the process by name, the rule that matched, the profile, where it would go.
    for (const p of pids)
      await waitFor(`the adoption line of ${p}`, () =>
        new RegExp(
          `dry run: would adopt pid ${p} \\(node\\), matched by adopt\\.rules\\.0 \\(cmdline /${w.marker}/\\) as profile solo: node 0, cpus \\d`,
        ).test(agent.stderr()),
      );
    for (const p of pids) {
      expect(cpusAllowed(p)).toBe('0-1');
      expect(cpusetOf(p)).toBe('/');
    }
    expect(existsSync(join(CPUSET, w.parent))).toBe(false);
    const notes = (readJournal(agent.journal).entries as Entry[]).filter(
      (e) => e.type === 'note' && e.text === 'dry run: would do',
    );
    expect(notes.length).toBeGreaterThanOrEqual(2);
    expect(enforcementErrors(await agent.getText('/metrics'))).toBe(0);
  });

  it('--json prints one JSON line with the address, journal and pid once listening', { timeout: T }, async () => {
    const agent = await w.agent(w.config(EXCLUSIVE), { enforce: false });
    expect(agent.line).toEqual({
      listening: `127.0.0.1:${agent.port}`,
      mode: 'adopt',
      enforce: false,
      state_dir: w.stateDir,
      journal: join(w.stateDir, 'journal'),
      pid: agent.proc.pid,
    });
    expect(agent.port).toBeGreaterThan(0);
    expect((await agent.get<{ mode: string }>('/v1/state')).mode).toBe('adopt');
  });
});

describe('fgo live: config validation through the CLI', () => {
  const write = (name: string, doc: string) => {
    const f = join(w.dir, name);
    writeFileSync(f, doc);
    return f;
  };
  const rules = `  "adopt": {
    "rules": [
      { "profile": "solo" },
      { "profile": "solo", "cmdline": "([unclosed" }
    ]
  },
  "engine": { "profiles": { "solo": { "cpus": 1, "pool": { "min": 1 } } } }`;
  const run = (f: string) => fgo(['live', '--config', f, '--listen', '127.0.0.1:0']);
  const at = (f: string, line: number | string, what: string) =>
    new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: ${what.replace(/\./g, '\\.')}`);

  it('exit 1, each problem on stderr with file:line:col', { timeout: T }, () => {
    const f = write('bad.json', `{\n  "mode": "adopt",\n${rules}\n}\n`);
    const r = run(f);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${f}:5:7: adopt.rules.0: needs at least one selector`);
    expect(r.err).toMatch(at(f, 6, 'adopt.rules.1.cmdline: not a regular expression'));
    expect(r.err).toMatch(at(f, 9, 'engine.profiles.solo.pool: adopt mode launches nothing'));
    const u = write('unknown.json', '{\n  "mode": "adopt",\n  "colour": "blue"\n}\n');
    const ru = run(u);
    expect(ru.code).toBe(1);
    expect(ru.err).toContain(`${u}:3:13: colour: unknown key`);
  });

  // Cross-field problems are checked on a best-effort merge, so an unknown key hides nothing.
  it('an unknown key does not hide the other problems', { timeout: T }, () => {
    const f = write('all.json', `{\n  "mode": "adopt",\n  "colour": "blue",\n${rules}\n}\n`);
    const r = run(f);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${f}:3:13: colour: unknown key`);
    for (const what of [
      'adopt.rules.0: needs at least one selector',
      'adopt.rules.1.cmdline: not a regular expression',
      'engine.profiles.solo.pool: adopt mode launches nothing',
    ]) {
      expect(r.err).toMatch(at(f, '\\d+', what));
    }
  });
});
