/**
 * The real `fgo live` agent in pool mode, end to end on this host (root, cgroup v1 cpusets, PSI):
 * each test starts the CLI as a child process on 127.0.0.1:0 with its own state dir and cpuset
 * parent, talks to it over HTTP and WebSocket, and tears everything down (agent, workers, load,
 * cgroups) in afterEach. Workers are live/examples/echo-worker.mjs.
 *
 * 1. requests are served end to end (wait and no wait), warm workers are used, cpusets enforced;
 * 2. the API's guards and outputs on the real agent (auth, limits, validation, metrics, stream);
 * 3. CPU pressure wakes the agent through a PSI trigger and requests are deferred or shed;
 * 4. kill -9 and restart: the journal holds every answered decision and replays identically;
 * 5. only configured commands run (payloads are data; a relative program is refused at start).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { formatCpuList, parseCpuList } from '../../formats/host/cpulist.ts';
import { readJournal } from '../../live/journal.ts';
import type { JournalEntry } from '../../live/port.ts';
import {
  CPUSET_ROOT,
  eachHarness,
  FGO,
  http,
  running,
  spawnAgent,
  startAgent,
  state,
  stopAgent,
  until,
  writePoolConfig,
  type AgentProc,
  type AgentState,
  type Harness,
} from './pool-helpers.ts';

const TEST_MS = 60_000;
const SCHEDULE = '/v1/schedule';
const echo = (payload: unknown, extra: Record<string, unknown> = {}) => ({
  profile: 'echo',
  priority: 'normal',
  payload,
  ...extra,
});

let h: Harness;
eachHarness((x) => (h = x));

/** Poll the state until at least `n` workers are ready; returns that state. */
function readyWorkers(a: AgentProc, n: number): Promise<AgentState> {
  return until(
    async () => {
      const s = await state(h, a);
      return s.pool.workers.filter((w: { state: string }) => w.state === 'ready').length >= n ? s : undefined;
    },
    20_000,
    `${n} ready worker(s)`,
  );
}

const cgroupOf = (pid: number) =>
  readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[1]?.split(',').includes('cpuset'))?.[2];
const cpusAllowed = (pid: number) =>
  parseCpuList(/^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '');

describe('fgo live, pool mode, on this host', () => {
  it(
    'serves requests end to end: warm workers, wait and no wait, each worker in its own cpuset',
    async () => {
      writePoolConfig(h);
      const a = await startAgent(h, { enforce: true });
      const s0 = await readyWorkers(a, 2);
      expect(s0).toMatchObject({ mode: 'pool', enforce: true, psi_available: true });

      const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo({ x: 1 }, { wait: true }) });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ action: 'place', ok: true, result: { echo: { x: 1 } } });
      // Timed from admission to the worker's result, so counted before the answer left.
      expect((await http(a.url, 'GET', '/metrics')).text).toMatch(
        /^fgo_request_duration_seconds_count\{profile="echo",outcome="ok"\} 1$/m,
      );
      const workers: { fragment: string; pid: number; state: string }[] = (await state(h, a)).pool.workers;
      expect(workers.find((w) => w.pid === r.body?.result?.pid)?.fragment).toBe(r.body?.fragment);

      const d = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo({ x: 2 }) });
      expect(d.status, d.text).toBe(200);
      expect(d.body).toMatchObject({ action: 'place', start: 'warm', profile: 'echo', node: 0 });
      expect(d.body?.request_id).toMatch(/^r\d+$/);

      for (const w of workers) expect(cgroupOf(w.pid), `pid ${w.pid}`).toBe(`/${h.parent}/${w.fragment}`);
      const placed = workers.find((w) => w.fragment === d.body?.fragment);
      expect(placed, `worker of ${d.body?.fragment}`).toBeDefined();
      expect(cpusAllowed(placed!.pid)).toEqual(d.body?.cpus);
      expect(readFileSync(join(CPUSET_ROOT, h.parent, placed!.fragment, 'cpuset.cpus'), 'utf8').trim()).toBe(
        formatCpuList(d.body!.cpus!),
      );
    },
    TEST_MS,
  );

  it(
    'prints one JSON line with the listening addresses when started with --json; the metrics listener serves /metrics only',
    async () => {
      writePoolConfig(h, { metrics_listen: '127.0.0.1:0' });
      const a = await startAgent(h, { json: true });
      const line = JSON.parse(a.stdout().split('\n')[0] ?? '');
      expect(line).toMatchObject({
        listening: a.where,
        mode: 'pool',
        enforce: false,
        journal: join(h.stateDir, 'journal'),
        pid: a.child.pid,
      });
      expect(line.metrics_listening).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(line.metrics_listening).not.toBe(a.where);
      const m = await http(`http://${line.metrics_listening}`, 'GET', '/metrics');
      expect(m.status).toBe(200);
      expect(m.text).toMatch(/^fgo_build_info\{version="[^"]+",node_version="[^"]+",commit="[^"]*"\} 1$/m);
      expect((await http(`http://${line.metrics_listening}`, 'GET', '/v1/state')).status).toBe(404);
    },
    TEST_MS,
  );

  it(
    'guards and reports through the API: auth, body limit, validation, metrics, the stream',
    async () => {
      writePoolConfig(h);
      const a = await startAgent(h);
      const good = echo({ x: 3 });

      const none = await http(a.url, 'POST', SCHEDULE, { body: good });
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await http(a.url, 'POST', SCHEDULE, { token: 'f'.repeat(64), body: good })).status).toBe(401);
      expect(
        (await http(a.url, 'POST', SCHEDULE, { token: a.token, raw: JSON.stringify(echo('a'.repeat(65 * 1024))) }))
          .status,
      ).toBe(413);

      const bad = await http(a.url, 'POST', SCHEDULE, { token: a.token, raw: '{"profile":' });
      expect(bad.status).toBe(400);
      expect(bad.body?.error).toMatch(/invalid JSON/);
      const prio = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: { profile: 'echo', priority: 7 } });
      expect(prio.status).toBe(400);
      expect(prio.body?.problems).toEqual([expect.stringMatching(/^priority: /)]);
      const unknown = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: { profile: 'echo', colour: 'red' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body?.problems).toEqual(['colour: unknown key']);
      const nope = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: { profile: 'nope' } });
      expect(nope.status).toBe(404);
      expect(nope.body?.error).toMatch(/unknown profile "nope"/);

      const ws = new WebSocket(`ws://${a.where}/v1/stream`); // the ws client sends no Origin header
      // The fields of the stream's messages that this test reads.
      const got: Array<{ type: string; decision?: { request_id: string } }> = [];
      ws.on('message', (m) => got.push(JSON.parse(String(m))));
      try {
        await until(() => got.some((m) => m.type === 'sample'), 5_000, 'a sample on the stream');
        const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: good });
        expect(r.status, r.text).toBe(200);
        expect(r.body?.action).toBe('place');
        const msg = await until(
          () => got.find((m) => m.type === 'decision' && m.decision?.request_id === r.body?.request_id),
          5_000,
          'the decision on the stream',
        );
        expect(msg.decision).toMatchObject({ action: 'place', profile: 'echo', seq: r.body?.seq });
      } finally {
        ws.terminate();
      }

      const metrics = await http(a.url, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(Number(/^fgo_decisions_total\{action="place"\} (\d+)$/m.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(
        1,
      );
      expect(metrics.text).toMatch(/^fgo_pressure_ratio\{resource="cpu",line="some",window="avg10"\} [\d.e-]+$/m);
      expect(metrics.text).toMatch(/^fgo_pool_fragments\{profile="echo",state="warm"\} \d+$/m);
    },
    TEST_MS,
  );

  it(
    "reacts to CPU pressure through a PSI trigger at once, and does not hold requests back for a stall that is not fgo's",
    async () => {
      writePoolConfig(h, {
        interval_ms: 5_000, // only a trigger can explain turns (and a reaction) faster than this
        triggers: [{ resource: 'cpu', line: 'some', stall_us: 100_000, window_us: 2_000_000 }],
        engine: {
          pressure: { signal: 'total', thresholds: { cpu: { low: 0.05, medium: 0.1, high: 0.2, critical: 0.4 } } },
        },
      });
      const a = await startAgent(h);
      // 4 busy processes on 2 CPUs: cpu some ≈ 100 % by the kernel's arithmetic (each gives up after 60 s on its own)
      for (let i = 0; i < 4; i++)
        h.extra.push(
          spawn(process.execPath, ['-e', 'for(const e=Date.now()+60e3;Date.now()<e;);'], { stdio: 'ignore' }),
        );

      // The trigger's first events (within 2 × window + 2 s of arming) are dropped as spurious.
      const s = await until(
        async () => {
          const st = await state(h, a);
          return st.last_trigger_reaction_ms !== undefined ? st : undefined;
        },
        30_000,
        'a turn caused by a trigger event',
        250,
      );
      expect(s.triggers).toEqual([expect.objectContaining({ file: '/proc/pressure/cpu', closed: false })]);
      expect(s.last_trigger_reaction_ms).toBeGreaterThanOrEqual(0);
      expect(s.last_trigger_reaction_ms).toBeLessThanOrEqual(2_000);
      expect(s.turns).toBeGreaterThan(Math.floor(s.t_ms / 5_000) + 1);

      // The decision sees the stall (≥ high 0.2), but the four busy processes are not fgo's: holding
      // a request back would not relieve it, so the request is placed.
      const d = await until(
        async () => {
          const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo({ x: 4 }) });
          return (r.body?.pressure?.cpu.value ?? 0) >= 0.2 ? r : undefined; // no reading: not yet
        },
        20_000,
        'a decision that saw the CPU pressure',
        500,
      );
      expect(d.status, d.text).toBe(200);
      expect(d.body?.action).toBe('place');
      expect(d.body?.reason).not.toMatch(/pressure/);
    },
    TEST_MS,
  );

  it(
    'survives kill -9: the journal holds every answered decision, orphans go, the restart serves and replays',
    async () => {
      writePoolConfig(h);
      let a = await startAgent(h, { enforce: true });
      await readyWorkers(a, 1);
      const answered: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo({ i }, { wait: true }) });
        expect(r.status, r.text).toBe(200);
        answered.push(r.body!.request_id!);
      }
      const nowait = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo({ i: 3 }) });
      expect(nowait.status, nowait.text).toBe(200);
      answered.push(nowait.body!.request_id!);
      const orphans: number[] = (await state(h, a)).pool.workers.map((w: { pid: number }) => w.pid);
      expect(orphans.length).toBeGreaterThan(0);

      expect(await stopAgent(a, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const journal = join(h.stateDir, 'journal');
      const read = readJournal(journal);
      for (const p of read.problems) expect(p).toMatch(/torn last line/);
      const calls = (read.entries as JournalEntry[]).filter(
        (e): e is Extract<JournalEntry, { type: 'call' }> => e.type === 'call' && e.op === 'schedule',
      );
      const decided = new Map(calls.map((c) => [(c.out as { request_id: string }).request_id, c]));
      for (const id of answered) {
        expect(decided.has(id), `decision ${id} in the journal`).toBe(true);
        expect((decided.get(id)!.args[0] as { id: string }).id).toBe(id);
      }

      await until(
        () => orphans.every((p) => !running(p)),
        10_000,
        `orphaned workers ${orphans.join(',')} to exit on stdin EOF`,
      );

      a = await startAgent(h, { enforce: true });
      await readyWorkers(a, 1);
      const again = await http(a.url, 'POST', SCHEDULE, {
        token: a.token,
        body: echo({ after: 'restart' }, { wait: true }),
      });
      expect(again.status, again.text).toBe(200);
      expect(again.body?.result?.echo).toEqual({ after: 'restart' });
      expect((await state(h, a)).journal.segment).toBe(join(journal, '000002.jsonl'));
      expect(await stopAgent(a)).toEqual({ code: 0, signal: null });

      const rep = spawnSync(process.execPath, [FGO, 'replay', journal, '--json'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(rep.status, rep.stderr).toBe(0);
      const report = JSON.parse(rep.stdout);
      expect(report).toMatchObject({ segments: 2, epochs: 2, differences: [] });
      expect(report.decisions).toBeGreaterThanOrEqual(answered.length + 1);
    },
    TEST_MS,
  );

  it(
    'runs only configured commands: a payload is data, never a command line',
    async () => {
      writePoolConfig(h);
      const a = await startAgent(h);
      await readyWorkers(a, 1);
      const target = join(tmpdir(), `pwned-${randomBytes(6).toString('hex')}`);
      const cmd = `touch ${target}; touch ${target}`;
      const r = await http(a.url, 'POST', SCHEDULE, {
        token: a.token,
        body: echo({ cmd, $: `$(touch ${target})` }, { wait: true }),
      });
      expect(r.status, r.text).toBe(200);
      expect(r.body?.result?.echo.cmd).toBe(cmd);
      expect(existsSync(target)).toBe(false);
    },
    TEST_MS,
  );

  it(
    'refuses at start a worker command that is a relative path',
    async () => {
      writePoolConfig(h, { pool: { workers: { echo: { command: ['./x'] } } } });
      const a = spawnAgent(h, []);
      const exit = await until(() => a.exit, 20_000, 'the agent to exit');
      const stderr = a.stderr();
      expect(exit, stderr).toEqual({ code: 1, signal: null });
      expect(stderr).toMatch(/pool\.workers\.echo\.command: .*'\.\/x' is a relative path/);
      expect(existsSync(join(h.stateDir, 'journal'))).toBe(false);
    },
    TEST_MS,
  );
});
