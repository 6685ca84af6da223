/**
 * Pool bookkeeping kept as fragments change: a pool's live fragments per node (what placement and
 * scale-down read instead of counting the pool) must match a scan of the fragments after any
 * sequence of starts, state changes and moves; the outcome window's totals follow the window.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.ts';
import { NodeLedger } from '../../engine/placement.ts';
import { canTransition, isLive, PoolSet, windowTotals, type FragmentState } from '../../engine/pools.ts';
import { buildTopology } from '../../engine/topology.ts';

const topo = buildTopology({
  nodes: [
    { id: 0, cpus: [0, 1], memory_kb: 10_000_000, distances: [10, 21, 21] },
    { id: 1, cpus: [2, 3], memory_kb: 10_000_000, distances: [21, 10, 21] },
    { id: 2, cpus: [4, 5], memory_kb: 10_000_000, distances: [21, 21, 10] },
  ],
});
const STATES: FragmentState[] = ['starting', 'warm', 'active', 'draining', 'stopped', 'failed'];

function setup() {
  const cfg = parseConfig({ profiles: { svc: { memory_kb: 1_000 } } });
  const pools = new PoolSet(cfg, new NodeLedger(topo, 1));
  return { pools, pool: pools.pool('svc') };
}

const counted = (pools: PoolSet, node: number) =>
  [...pools.fragments()].filter((f) => f.node === node && isLive(f)).length;

describe('Pool.liveOn', () => {
  it('counts starting, warm and active fragments on a node, not draining or gone ones', () => {
    const { pools, pool } = setup();
    const a = pools.create('svc', 0, [0], 0);
    const b = pools.create('svc', 0, [0], 0);
    const c = pools.create('svc', 1, [2], 0);
    expect([pool.liveOn(0), pool.liveOn(1), pool.liveOn(2)]).toEqual([2, 1, 0]);
    pools.transition(a, 'warm');
    pools.transition(b, 'active');
    expect(pool.liveOn(0)).toBe(2); // still live
    pools.transition(b, 'draining');
    expect(pool.liveOn(0)).toBe(1);
    pools.moveNode(a, 2, [4]); // a warm fragment moves: it leaves node 0's count for node 2's
    expect([pool.liveOn(0), pool.liveOn(2)]).toEqual([0, 1]);
    pools.transition(c, 'failed');
    expect(pool.liveOn(1)).toBe(0);
    pools.transition(c, 'starting'); // restarted in place
    expect(pool.liveOn(1)).toBe(1);
  });

  it('matches a count over the fragments after any sequence of creates, transitions and moves (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), node: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ kind: fc.constant('transition' as const), pick: fc.nat(), to: fc.constantFrom(...STATES) }),
      fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), node: fc.integer({ min: 0, max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { pools, pool } = setup();
        for (const o of ops) {
          const all = [...pools.fragments()];
          if (o.kind === 'create') pools.create('svc', o.node, [], 0);
          else {
            const f = all[o.pick % Math.max(1, all.length)];
            if (f && o.kind === 'transition' && canTransition(f.state, o.to)) pools.transition(f, o.to);
            if (f && o.kind === 'move') pools.moveNode(f, o.node, []);
          }
          for (const n of [0, 1, 2]) expect(pool.liveOn(n)).toBe(counted(pools, n));
        }
      }),
    );
  });
});

describe('the window totals recordOutcome keeps', () => {
  it('follow the window as outcomes arrive and old ones fall out', () => {
    const { pools, pool } = setup();
    const f = pools.create('svc', 0, [0], 0);
    const outcomes = [
      { ok: true, latency_ms: 100 },
      { ok: false, latency_ms: 250 },
      { ok: true, latency_ms: 40 },
      { ok: false, latency_ms: 7 },
    ];
    for (const o of outcomes) pool.recordOutcome(f, o, 3, 0);
    // window of 3: the first outcome (100 ms, ok) fell out; 250 + 40 + 7 = 297 ms, two failures
    expect(f.recent_totals).toEqual({ fails: 2, total_ms: 297 });
    expect(f.recent_totals).toEqual(windowTotals(f));
  });
});
