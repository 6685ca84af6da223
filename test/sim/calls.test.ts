/**
 * Calls in the twin (sim/calls.ts): end-to-end latency of a chain worked by hand, async calls left
 * out of their caller's time, cross-node calls counted, a dead dependency failing its callers
 * fast, and the scenario's checks of the graph.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../sim/scenario.ts';
import { runSimulation } from '../../sim/run.ts';
import { presetTopology } from '../../sim/topologies.ts';
import { InputError } from '../../formats/errors.ts';

/** api (10 ms) calls db (5 ms), one root every 10 s from 5 s on; both pools kept warm (min 1). */
function chain(mode: 'sync' | 'async', extra: Record<string, unknown> = {}) {
  const svc = (cpu: number) => ({
    cpu_ms: { dist: 'const', mean: cpu },
    warm_start_ms: 5,
    cold_start_ms: 800,
    home: 'none',
    priority_mix: [0, 1, 0, 0],
    pool: { min: 1, target: 1 },
  });
  return parseScenario({
    name: 'chain',
    duration: '5m',
    topology: '1n-2c',
    profiles: {
      api: { ...svc(10), arrival: { kind: 'periodic', period_s: 10, phase_s: 5 }, calls: [{ profile: 'db', mode }] },
      db: svc(5),
    },
    ...extra,
  });
}

const run = async (
  scenario: ReturnType<typeof parseScenario>,
  policy: 'engine' | 'graph-blind' | 'least-loaded' = 'engine',
) => (await runSimulation({ scenario, topology: presetTopology(scenario.topology), policy })).metrics;

describe('calls in the twin', () => {
  it("a sync call's time is inside its caller's: 5 + 10 + (5 + 5) = 25 ms end to end, 10 ms for the call", async () => {
    const m = await run(chain('sync'));
    expect(m.calls).toBe(30);
    expect(m.cross_node_call_ratio).toBe(0);
    // HdrHistogram keeps 3 significant digits: 25 ms is recorded within 0.1 %.
    expect(m.e2e_latency_ms.p50).toBeCloseTo(25, 1);
    expect(m.e2e_latency_ms.p99).toBeCloseTo(25, 1);
    expect(m.by_profile.api?.latency_ms.p50).toBeCloseTo(25, 1);
    expect(m.by_profile.db?.latency_ms.p50).toBeCloseTo(10, 1);
    expect(m.requests).toMatchObject({ arrived: 60, completed: 60, shed: 0, failed: 0 });
  });

  it('an async call is made and not waited for: 5 + 10 = 15 ms end to end', async () => {
    const m = await run(chain('async'));
    expect(m.calls).toBe(30);
    expect(m.e2e_latency_ms.p99).toBeCloseTo(15, 1);
    expect(m.by_profile.db?.completed).toBe(30);
  });

  it('a scenario without calls has its latency as end-to-end latency and no call ratio', async () => {
    const s = chain('sync');
    s.profiles.api!.calls = [];
    const m = await run(s);
    expect(m.calls).toBe(0);
    expect(m.cross_node_call_ratio).toBeNull();
    expect(m.e2e_latency_ms).toEqual({ p50: m.latency_ms.p50, p95: m.latency_ms.p95, p99: m.latency_ms.p99 });
  });

  it('an outage of the callee fails its callers fast with the engine, naming it, and is one incident', async () => {
    // db (one fragment) is down from 60 s to 120 s. Its fragment dies at 60 s; one crash is a
    // restart, not an outage, until the restart dies too as it comes up at 60.8 s: detected then
    // (MTTD 0.8 s). The roots at 65, 75, … 115 s (6) are shed at once, naming db; the first restart
    // after 120 s comes up at 120.8 s: recovered (MTTR 60 s).
    const s = chain('sync', { faults: [{ kind: 'outage', at: '60s', profile: 'db', duration: '60s' }] });
    const dir = mkdtempSync(join(tmpdir(), 'fgo-calls-'));
    const m = (
      await runSimulation({
        scenario: s,
        topology: presetTopology(s.topology),
        policy: 'engine',
        out: join(dir, 'run'),
      })
    ).metrics;
    expect(m.faults).toEqual({ injected: 1, detected: 1, recovered: 1 });
    expect([m.mttd_s, m.mttr_s]).toEqual([0.8, 60]);
    expect(m.by_profile.api).toMatchObject({ arrived: 30, completed: 24, shed: 6, failed: 0 });
    const reasons = readFileSync(join(dir, 'run', 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; reason: string })
      .filter((d) => d.action === 'shed')
      .map((d) => d.reason);
    expect(reasons).toHaveLength(6);
    for (const r of reasons)
      expect(r).toBe('dependency db is down (outage 0 since 60800 ms): failed fast rather than waiting on it');
    rmSync(dir, { recursive: true });
  });

  it('the graph is checked with the scenario: unknown callee, sync cycle, an outage without its profile', () => {
    const bad = (profiles: object, faults: object[] = []) => {
      try {
        parseScenario({ name: 'x', profiles, faults });
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as InputError).problems;
      }
      throw new Error('accepted');
    };
    expect(bad({ a: { calls: [{ profile: 'b' }] } })).toEqual([
      "scenario: profiles.a.calls.0.profile: 'b' is not a configured profile (profiles: a)",
    ]);
    expect(bad({ a: { calls: [{ profile: 'b' }] }, b: { calls: [{ profile: 'a' }] } })).toEqual([
      'scenario: profiles.a.calls: sync calls form a cycle a → b → a (a request would wait on itself; make one call async)',
    ]);
    expect(bad({ a: {} }, [{ kind: 'outage', at: '1s' }])).toEqual([
      'scenario: faults.0.profile: an outage needs the profile that goes down, one of the catalogue',
    ]);
  });
});
