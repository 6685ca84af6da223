/**
 * Expected latency (engine/latency.ts): the terms against numbers worked by hand — warm against
 * cold, remote memory from the SLIT, a neighbour's CPU demand measured through PSI, a thrashing
 * node — and the choice it makes.
 */
import { describe, expect, it } from 'vitest';
import { buildTopology, parseConfig, type NodeScore } from '../../engine/index.ts';
import { contention, expectedLatency, pickByLatency, remoteFactor } from '../../engine/latency.ts';
import { NodeLedger, NONE_WARM, type NodePressures } from '../../engine/placement.ts';

const topo = buildTopology({
  nodes: [
    { id: 0, cpus: [0, 1, 2, 3], memory_kb: 4_000_000, distances: [10, 21] },
    { id: 1, cpus: [4, 5, 6, 7], memory_kb: 4_000_000, distances: [21, 10] },
  ],
  online_cpus: [0, 1, 2, 3, 4, 5, 6, 7],
  allowed_cpus: [0, 1, 2, 3, 4, 5, 6, 7],
  allowed_nodes: [0, 1],
});
const profile = parseConfig({ profiles: { api: { cold_start_ms: 800, warm_start_ms: 2, memory_intensity: 0.6 } } })
  .profiles.api!;
const n0 = topo.byId.get(0)!,
  n1 = topo.byId.get(1)!;
const NO_PRESSURE: NodePressures = { nodeValues: () => undefined };

describe('the terms', () => {
  it('remote memory: 1 + memory_intensity × (distance ÷ local − 1)', () => {
    expect(remoteFactor(n0, n1, 0.6)).toBeCloseTo(1.66, 12); // 1 + 0.6 × (21/10 − 1)
    expect(remoteFactor(n0, n0, 0.6)).toBe(1);
    expect(remoteFactor(undefined, n1, 0.6)).toBe(1);
  });

  it("contention: demand over usable CPUs above 1, the larger of fgo's reservations and what the node measures", () => {
    // 4 CPUs, nothing reserved, nothing measured: one more task runs at full speed.
    expect(contention(4, 0, 1, undefined, undefined)).toBe(1);
    // fgo reserved 5 CPUs: 5 + 1 = 6 runnable on 4 → 1.5 × slower.
    expect(contention(4, 5, 1, undefined, undefined)).toBe(1.5);
    // A neighbour: busy 100 %, CPU stall 100 % → 4 × (1 + 1) = 8 runnable measured, + 1 → 9/4.
    expect(contention(4, 0, 1, { id: 0, cpu_util: 1 }, { cpu: 1, memory: 0, io: 0 })).toBe(2.25);
    // A node thrashing at 50 % memory stall runs everything at half speed.
    expect(contention(4, 0, 1, undefined, { cpu: 0, memory: 0.5, io: 0 })).toBe(2);
    expect(contention(0, 0, 1, undefined, undefined)).toBe(Infinity);
  });
});

describe('the choice', () => {
  const scores = (): NodeScore[] =>
    [0, 1].map((node) => ({
      node,
      eligible: true,
      resource: 1,
      locality: node === 0 ? 1 : 0.47619,
      affinity: 0,
      balance: 1,
      pressure_factor: 1,
      total: 1,
    }));

  it('a warm fragment on the far node beats a cold start beside the data: 2 + 20 × 1.66 = 35.2 ms against 800 + 20 = 820 ms', () => {
    const ledger = new NodeLedger(topo, 1);
    const s = scores();
    const best = pickByLatency(s, {
      profile,
      service_ms: 20,
      home: n0,
      cpus: 1,
      ledger,
      warm: { warmOn: (n) => (n === 1 ? 1 : 0) },
      pressure: NO_PRESSURE,
    });
    expect(best?.node).toBe(1);
    expect(s.map((x) => x.expected_ms)).toEqual([820, 35.2]);
  });

  it('beside the data when both are warm; away from a node a neighbour crowds', () => {
    const ledger = new NodeLedger(topo, 1);
    const warm = { warmOn: () => 1 };
    expect(
      pickByLatency(scores(), { profile, service_ms: 20, home: n0, cpus: 1, ledger, warm, pressure: NO_PRESSURE })
        ?.node,
    ).toBe(0);
    // Node 0 measured busy with CPU stall 100 %: 2 + 20 × 2.25 = 47 ms; node 1 2 + 20 × 1.66 = 35.2 ms.
    ledger.observe(undefined, [
      { id: 0, cpu_util: 1 },
      { id: 1, cpu_util: 0.1 },
    ]);
    const s = scores();
    const best = pickByLatency(s, {
      profile,
      service_ms: 20,
      home: n0,
      cpus: 1,
      ledger,
      warm,
      pressure: { nodeValues: (n) => (n === 0 ? { cpu: 1, memory: 0, io: 0 } : { cpu: 0, memory: 0, io: 0 }) },
    });
    expect(s.map((x) => x.expected_ms)).toEqual([47, 35.2]);
    expect(best?.node).toBe(1);
    expect(
      expectedLatency(n1, { profile, service_ms: 20, home: n0, cpus: 1, ledger, warm, pressure: NO_PRESSURE }),
    ).toMatchObject({ start_ms: 2, contention: 1 });
  });

  it('nothing eligible: no choice', () => {
    const s = scores().map((x) => ({ ...x, eligible: false }));
    expect(
      pickByLatency(s, {
        profile,
        service_ms: 20,
        home: undefined,
        cpus: 1,
        ledger: new NodeLedger(topo, 1),
        warm: NONE_WARM,
        pressure: NO_PRESSURE,
      }),
    ).toBeUndefined();
  });
});
