/**
 * The three stronger baselines (sim/baselines.ts): locality-first's placement, called directly and
 * in the twin; hybrid-keepalive's pre-warming, called directly and in the twin against the fixed
 * 10-minute keep-alive on a profile invoked every 20 minutes. Expectations worked out by hand.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Command, Decision, Observation, Request } from '../../engine/index.ts';
import { makeBaseline, type BaselineName } from '../../sim/baselines.ts';
import { engineConfigFor, runSimulation, type RunInputs } from '../../sim/run.ts';
import { scenarioSchema, type Scenario } from '../../sim/scenario.ts';
import { presetTopology } from '../../sim/topologies.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'fgo-baselines-test-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
let dirs = 0;

const MIN = 60_000;
const GiB_kb = 1024 * 1024;
const scenario = (s: Record<string, unknown>): Scenario => scenarioSchema.parse({ name: 'test', ...s });
const line = { avg10: 0, avg60: 0, avg300: 0 };
const obs = (t_ms: number): Observation => ({
  t_ms,
  psi: { cpu: { some: line, full: line }, memory: { some: line, full: line }, io: { some: line, full: line } },
});
const req = (id: string, home: number | undefined, cpus = 1, memory_kb = 16 * 1024, profile = 'fn'): Request => ({
  id,
  profile,
  cpus,
  memory_kb,
  priority: 1,
  ...(home === undefined ? {} : { memory_home: home }),
});
const OK = { ok: true, latency_ms: 1 } as const;

/** A baseline on a preset topology, with one 256-MB profile `fn` and no CPU overcommit. */
function policy(name: BaselineName, topology = '2n-32c') {
  const cfg = engineConfigFor(
    scenario({ profiles: { fn: { memory_mb: 256 } }, engine: { placement: { cpu_overcommit: 1 } } }),
  );
  return makeBaseline(name, cfg, presetTopology(topology), '1');
}

/** Place a request, bring its fragment up and complete it: the fragment is then idle. */
function serve(
  p: ReturnType<typeof policy>,
  r: Request,
  t_ms: number,
  run_ms = 1000,
): { d: Decision; done: Command[] } {
  const d = p.schedule(r, obs(t_ms));
  expect(d.action, d.reason).toBe('place');
  if (d.start === 'cold') p.started(d.fragment as string, obs(t_ms + 1000));
  return { d, done: p.complete(d.fragment as string, OK, obs(t_ms + (d.start === 'cold' ? 1000 : 0) + run_ms)) };
}

describe('locality-first', () => {
  it('a warm fragment on node 0 is not used for a request homed on node 1 (least-loaded uses it)', () => {
    for (const name of ['locality-first', 'locality-hybrid'] as const) {
      const p = policy(name);
      const first = serve(p, req('r0', 0), 0).d;
      expect(first).toMatchObject({ start: 'cold', node: 0 });
      // Warm on node 0 now; the next request's data is on node 1: a cold start there.
      const d1 = p.schedule(req('r1', 1), obs(5000));
      expect(d1, name).toMatchObject({ action: 'place', start: 'cold', node: 1 });
      expect(d1.commands, name).toMatchObject([{ type: 'start', node: 1 }]);
      // A request homed on node 0 does get the warm fragment there.
      expect(p.schedule(req('r2', 0), obs(6000)), name).toMatchObject({
        action: 'place',
        start: 'warm',
        node: 0,
        fragment: first.fragment,
      });
    }
    const ll = policy('least-loaded');
    const first = serve(ll, req('r0', 0), 0).d;
    expect(ll.schedule(req('r1', 1), obs(5000))).toMatchObject({
      action: 'place',
      start: 'warm',
      node: 0,
      fragment: first.fragment,
    });
  });

  it('the home node when it fits, else the least-loaded node that fits', () => {
    // 4n-64c: 16 CPUs a node, no overcommit. A 16-CPU request fills node 1, its home.
    const p = policy('locality-first', '4n-64c');
    expect(p.schedule(req('big', 1, 16), obs(0))).toMatchObject({ action: 'place', node: 1 });
    // Node 0 gets 4 CPUs of work (its home). Free shares now: node 0 (12/16 CPU), nodes 2 and 3 all.
    expect(p.schedule(req('r0', 0, 4), obs(1)).node).toBe(0);
    // Homed on full node 1: the least-loaded that fits, node 2 (ties go to the lower id).
    expect(p.schedule(req('r1', 1, 1), obs(2))).toMatchObject({ action: 'place', start: 'cold', node: 2 });
    expect(p.schedule(req('r2', 1, 1), obs(3))).toMatchObject({ action: 'place', start: 'cold', node: 3 });
    // Nothing fits 16 CPUs anywhere now: it waits for room, as the other baselines do.
    expect(p.schedule(req('r3', 1, 16), obs(4))).toMatchObject({ action: 'defer', reason: 'locality-first: no room' });
  });
});

describe('hybrid-keepalive', () => {
  it('unloads an idle fragment whose pre-warm window is > 0 and pre-warms it back P later, on the same node if it fits, else the least-loaded', () => {
    for (const crowded of [false, true]) {
      const p = policy('hybrid-keepalive');
      // r0 at 0: cold on node 0, done at 2 s. No idle time yet: kept warm (4 h).
      expect(serve(p, req('r0', undefined), 0).done).toEqual([]);
      // r1 at 20 min: warm, done at 20 min + 1 s. IT = 1198 s (bin 19): P = 17.1 min, K = 4.9 min.
      const { d, done } = serve(p, req('r1', undefined), 20 * MIN);
      expect(d).toMatchObject({ start: 'warm', node: 0 });
      expect(done).toMatchObject([{ type: 'stop', fragment: d.fragment }]);
      if (crowded) {
        // Another profile's request holding all but 0.1 GiB of node 0's memory: the 256-MB pre-warm
        // no longer fits there. (A cold start of `fn` itself would take the pre-warm's place.)
        expect(p.schedule(req('hog', undefined, 1, 64 * GiB_kb - 0.1 * GiB_kb, 'other'), obs(30 * MIN))).toMatchObject({
          action: 'place',
          node: 0,
        });
      }
      const due = 20 * MIN + 1000 + 17.1 * MIN;
      expect(p.tick(obs(due - 1)).filter((c) => c.type === 'start')).toEqual([]);
      const starts = p.tick(obs(due)).filter((c) => c.type === 'start');
      expect(starts, `crowded ${crowded}`).toMatchObject([
        { type: 'start', profile: 'fn', node: crowded ? 1 : 0, reason: 'hybrid-keepalive: pre-warm' },
      ]);
      // Up and warm a second later; stopped K = 4.9 min after that unless used.
      const id = (starts[0] as { fragment: string }).fragment;
      p.started(id, obs(due + 1000));
      expect(p.tick(obs(due + 1000 + 4.9 * MIN - 1)).filter((c) => c.type === 'stop')).toEqual([]);
      expect(p.tick(obs(due + 1000 + 4.9 * MIN)).filter((c) => c.type === 'stop')).toEqual([
        { type: 'stop', fragment: id, reason: 'keep-alive expired' },
      ]);
    }
  });
});

describe('in the twin: one profile invoked exactly every 20 minutes', () => {
  // 1n-2c; invocations at 0, 20, …, 120 min (7), each 1 s of CPU; cold start 1 s, warm start 5 ms.
  const s = scenario({
    duration: '130m',
    topology: '1n-2c',
    profiles: { fn: { cold_start_ms: 1000, warm_start_ms: 5, cpu_ms: { dist: 'const', mean: 1000 }, memory_mb: 256 } },
  });
  const rows = Array.from({ length: 7 }, (_, i) => ({
    t_ms: i * 20 * MIN,
    profile: 'fn',
    cpu_ms: 1000,
    mem_mb: 16,
    priority: 1 as const,
    io: false,
  }));
  const run = (policy: RunInputs['policy']) =>
    runSimulation({
      scenario: s,
      topology: presetTopology('1n-2c'),
      policy,
      out: join(ROOT, `run-${dirs++}`),
      workload: { kind: 'request', rows },
    });

  it('the fixed 10-minute keep-alive cold-starts every invocation', async () => {
    // Each done 2 s after arriving, stopped 600 s later, 18 minutes before the next arrival.
    const m = (await run('least-loaded')).metrics;
    expect(m.requests.completed).toBe(7);
    expect(m.cold_start_ratio).toBe(1);
    expect(m.latency_ms.p50).toBe(2000);
  });

  it.each(['hybrid-keepalive', 'locality-hybrid'] as const)(
    '%s pre-warms once its histogram is representative: only the first invocation is cold',
    async (policy) => {
      // 1st (0 min): cold, done at 2 s; no idle time yet → kept 4 h. 2nd (20 min): warm; IT 1198 s,
      // bin 19 → P = 17.1 min, K = 4.9 min: unloaded at 20 min + 1.005 s, pre-warmed at the first
      // tick after 1201.005 + 1026 s (2228 s), warm at 2229 s, used at 2400 s. The same for every
      // later one: ITs stay in bin 19. Cold starts: 1 of 7.
      const r = await run(policy);
      const m = r.metrics;
      expect(m.requests.completed).toBe(7);
      expect(m.cold_start_ratio).toBeCloseTo(1 / 7, 5); // metrics.json keeps 6 digits
      // Warm ones take 5 ms + 1 s.
      expect(m.latency_ms.p50).toBeCloseTo(1005, 0);
      // Idle warm memory, 0.25 GB: 2 s → 1200 s (1198 s) after the first, then 2229 → 2400 s
      // (171 s) before each of the five invocations from 40 min on: 2053 s × 0.25 = 513.25 GB·s.
      expect(m.warm_idle_gb_s).toBeCloseTo(513.25, 1);
      // The pre-warmed fragments are there when the requests come: every decision after the first is warm.
      const decisions = readFileSync(join(r.dir as string, 'decisions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { start: string });
      expect(decisions.map((d) => d.start)).toEqual(['cold', 'warm', 'warm', 'warm', 'warm', 'warm', 'warm']);
    },
  );
});

describe('locality-first in the twin', () => {
  it('light load, every request homed on node 1: every placement on node 1, every access local', async () => {
    // 2n-32c, 5 requests/s of 20 ms: at most a few CPUs busy on a 16-CPU node, so node 1 always fits.
    const s = scenario({
      duration: '60s',
      topology: '2n-32c',
      profiles: { fn: { cpu_ms: { dist: 'exp', mean: 20 }, home: 1, arrival: { kind: 'poisson', rate_per_s: 5 } } },
    });
    const run = async (policy: RunInputs['policy']) => {
      const dir = join(ROOT, `run-${dirs++}`);
      const r = await runSimulation({ scenario: s, topology: presetTopology('2n-32c'), policy, out: dir });
      const ds = readFileSync(join(dir, 'decisions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; node: number });
      return { m: r.metrics, ds };
    };
    const local = await run('locality-first');
    expect(local.m.requests.arrived).toBeGreaterThan(200); // ≈ 300
    expect(local.ds.every((d) => d.action === 'place' && d.node === 1)).toBe(true);
    expect(local.m.local_access_ratio).toBe(1);
    // least-loaded, blind to the data, starts its first fragment on node 0 and reuses it.
    const blind = await run('least-loaded');
    expect(blind.ds.some((d) => d.node === 0)).toBe(true);
    expect(blind.m.local_access_ratio).toBeLessThan(1);
  });
});
