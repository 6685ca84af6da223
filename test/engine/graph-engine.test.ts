/**
 * The fragment graph in the orchestrator, against cases worked by hand: the communication term
 * deciding a node, a call's payload homing on its caller's node, start order, demand flowing down
 * in a scaling cycle, and a cascade — one outage for a pool that is down, its callers failed fast
 * with it named, no victim blamed, recovery once.
 */
import { describe, expect, it } from 'vitest';
import { buildTopology, Orchestrator, parseConfig, type Observation, type Request } from '../../engine/index.ts';
import { transfer_ms } from '../../engine/communication.ts';

const topo2 = () =>
  buildTopology({
    nodes: [
      { id: 0, cpus: [0, 1, 2, 3], memory_kb: 4_000_000, distances: [10, 21] },
      { id: 1, cpus: [4, 5, 6, 7], memory_kb: 4_000_000, distances: [21, 10] },
    ],
    online_cpus: [0, 1, 2, 3, 4, 5, 6, 7],
    allowed_cpus: [0, 1, 2, 3, 4, 5, 6, 7],
    allowed_nodes: [0, 1],
  });
const line = { some: { avg10: 0, avg60: 0, avg300: 0 } };
const obs = (t_ms: number): Observation => ({ t_ms, psi: { cpu: line, memory: line, io: line } });
const req = (id: string, profile: string, extra: Partial<Request> = {}): Request => ({
  id,
  profile,
  cpus: 1,
  memory_kb: 1_000,
  priority: 1,
  ...extra,
});

/** api (10 ms) calls cache (20 ms, memory intensity 0.6) once per request, sync, 1 MB. */
const config = (enabled = true) =>
  parseConfig({
    graph: { enabled },
    placement: { jitter: false },
    profiles: {
      api: {
        service_ms: 10,
        warm_start_ms: 5,
        memory_intensity: 0,
        calls: [{ profile: 'cache', per_request: 1, bytes: 1_000_000 }],
      },
      cache: { service_ms: 20, warm_start_ms: 5, memory_intensity: 0.6 },
    },
  });

/** An engine with one warm cache on node 1 and one warm api on each node (started, served, completed). */
function warmed(enabled = true): Orchestrator {
  const e = new Orchestrator({ config: config(enabled), topology: topo2(), seed: 't' });
  const place = (r: Request, t: number) => {
    const d = e.schedule(r, obs(t));
    e.started(d.fragment as string, obs(t + 1));
    e.complete(d.fragment as string, { ok: true, latency_ms: 1 }, obs(t + 2));
    return d;
  };
  place(req('c', 'cache', { allowed_nodes: [1] }), 0);
  place(req('a0', 'api', { allowed_nodes: [0] }), 10);
  place(req('a1', 'api', { allowed_nodes: [1] }), 20);
  return e;
}

describe('the communication term', () => {
  it('decides the node: the api request goes where its callee is warm', () => {
    // Node 0: 5 + 10 = 15 ms, + 1 call × (cache's 20 ms × (1.66 − 1) = 13.2 ms, plus 1 MB over
    // distance 21: 0.1 × 2.1 = 0.21 ms) = 28.41 ms. Node 1: 15 + 0.1 ms (1 MB locally) = 15.1 ms.
    const d = warmed().schedule(req('x', 'api'), obs(100));
    expect(d.node).toBe(1);
    expect(d.scores.map((s) => [s.node, s.expected_ms, s.calls_ms])).toEqual([
      [0, 28.4, 13.41],
      [1, 15.1, 0.1],
    ]);
    // Graph-blind, the two nodes tie at 15 ms and the lower id wins; no communication term shown.
    const blind = warmed(false).schedule(req('x', 'api'), obs(100));
    expect(blind.node).toBe(0);
    expect(blind.scores.map((s) => [s.node, s.expected_ms, s.calls_ms])).toEqual([
      [0, 15, undefined],
      [1, 15, undefined],
    ]);
  });

  it("a call's payload lives on its caller's node: the callee goes beside the caller", () => {
    const e = new Orchestrator({ config: config(), topology: topo2(), seed: 't' });
    // Warm cache fragments on both nodes; the caller runs on node 0.
    for (const [id, n] of [
      ['c0', 0],
      ['c1', 1],
    ] as const) {
      const d = e.schedule(req(id, 'cache', { allowed_nodes: [n] }), obs(n * 3));
      e.started(d.fragment as string, obs(n * 3 + 1));
      e.complete(d.fragment as string, { ok: true, latency_ms: 1 }, obs(n * 3 + 2));
    }
    const caller = e.schedule(req('a', 'api', { allowed_nodes: [0] }), obs(10));
    const d = e.schedule(req('a.1', 'cache', { caller: caller.fragment as string }), obs(11));
    // Node 0: 5 + 20 + 0.1 = 25.1; node 1: 5 + 20 × 1.66 + 0.21 = 38.41 → 38.4.
    expect(d.scores.map((s) => s.expected_ms)).toEqual([25.1, 38.4]);
    expect(d.node).toBe(0);
  });

  it('transfer: bytes at 10 GB/s, slowed by the SLIT distance', () => {
    const t = topo2();
    expect(transfer_ms(10_000_000, t.byId.get(0)!, t.byId.get(0)!)).toBe(1);
    expect(transfer_ms(10_000_000, t.byId.get(0)!, t.byId.get(1)!)).toBeCloseTo(2.1, 12);
  });
});

describe('start order and demand flow', () => {
  it("a caller's cold start starts its sync dependency beside it when none is warm or starting", () => {
    const e = new Orchestrator({ config: config(), topology: topo2(), seed: 't' });
    const d = e.schedule(req('a', 'api', { allowed_nodes: [1] }), obs(0));
    expect(d.start).toBe('cold');
    expect(d.commands.map((c) => [c.type, 'profile' in c ? c.profile : '', 'node' in c ? c.node : -1])).toEqual([
      ['start', 'api', 1],
      ['start', 'cache', 1],
    ]);
    // A second cold start finds cache starting: nothing more.
    const d2 = e.schedule(req('b', 'api', { allowed_nodes: [1] }), obs(1));
    expect(d2.commands.filter((c) => c.type === 'start').length).toBe(1);
  });

  it("a forecast of the root sizes its callee's pool: 10/s × 1 call × 25 ms in service → Poisson(0.25) at 99.9 % = 3 fragments", () => {
    const e = new Orchestrator({ config: config(), topology: topo2(), seed: 't' });
    const cmds = e.tick(obs(0), [{ profile: 'api', demand_per_s: 10, recommended_size: 1, confidence: 1 }]);
    // api: 10/s × (10 + 5) ms = 0.15: P(N ≤ 1) = 0.98981, P(N ≤ 2) = 0.99947 → 2;
    // cache: flowed 10/s × (20 + 5) ms = 0.25: P(N ≤ 2) = 0.99783, P(N ≤ 3) = 0.99987 → 3.
    const starts = (p: string) => cmds.filter((c) => c.type === 'start' && c.profile === p).length;
    expect(starts('api')).toBe(2);
    expect(starts('cache')).toBe(3);
    const blind = new Orchestrator({ config: config(false), topology: topo2(), seed: 't' });
    expect(
      blind
        .tick(obs(0), [{ profile: 'api', demand_per_s: 10, recommended_size: 1, confidence: 1 }])
        .filter((c) => c.type === 'start' && c.profile === 'cache').length,
    ).toBe(0);
  });
});

describe('a cascade', () => {
  /** Two warm cache fragments and a warm api; then both cache fragments crash, and their restarts crash again. */
  function downed(enabled = true) {
    const e = warmed(enabled);
    const d = e.schedule(req('c2', 'cache', { allowed_nodes: [0] }), obs(30));
    e.started(d.fragment as string, obs(31));
    e.complete(d.fragment as string, { ok: true, latency_ms: 1 }, obs(32));
    const caches = e.pools.pool('cache');
    const ids = [...caches.fragments.keys()];
    for (const id of ids) e.failed(id, 'exited', obs(40));
    return { e, ids };
  }

  it('a pool with every fragment failing is one outage; callers are failed fast with it named', () => {
    const { e } = downed();
    const list = e.outageList()!;
    expect(list.open.map((o) => [o.profile, o.detected_ms])).toEqual([['cache', 40]]);
    const d = e.schedule(req('x', 'api'), obs(50));
    expect(d.action).toBe('shed');
    expect(d.reason).toBe('dependency cache is down (outage 0 since 40 ms): failed fast rather than waiting on it');
    const c = e.schedule(req('y', 'cache'), obs(51));
    expect(c.reason).toBe('cache is down (outage 0 since 40 ms): failed fast rather than waiting on it');
    expect(e.outageList()!.open[0]).toMatchObject({ failed_fast: 2, callers: ['api'] });
  });

  it("a caller's errors against a down dependency are not held against it", () => {
    const { e } = downed();
    const api = e.pools.pool('api');
    const before = api.error_rate;
    // A request placed before the outage ends failed by its call.
    const f = [...api.fragments.values()][0]!;
    e.pools.transition(f, 'active');
    f.request = req('z', 'api');
    e.complete(f.id, { ok: false, latency_ms: 3, dependency: 'cache' }, obs(60));
    expect(api.error_rate).toBe(before);
    expect(f.recent_ok).not.toContain(false);
  });

  it('recovers once, when a fragment of the pool serves again', () => {
    const { e, ids } = downed();
    // The healer's restarts come up (state starting → warm).
    e.started(ids[0]!, obs(2_000));
    const list = e.outageList()!;
    expect(list.open).toEqual([]);
    expect(list.closed.map((o) => [o.id, o.profile, o.detected_ms, o.recovered_ms])).toEqual([[0, 'cache', 40, 2_000]]);
    expect(e.schedule(req('x', 'api'), obs(2_001)).action).toBe('place');
  });

  it('graph-blind: no outage is kept and nobody is failed fast', () => {
    const { e } = downed(false);
    expect(e.outageList()).toBeUndefined();
    expect(e.schedule(req('x', 'api'), obs(50)).action).not.toBe('shed');
  });

  it('one fragment crashing once is a restart, not an outage', () => {
    const e = warmed();
    const [id] = [...e.pools.pool('cache').fragments.keys()];
    e.failed(id!, 'exited', obs(40));
    expect(e.outageList()!.open).toEqual([]);
    // …but failing again while its restart is under way is.
    e.failed(id!, 'exited again', obs(900));
    expect(e.outageList()!.open.map((o) => o.profile)).toEqual(['cache']);
  });
});
