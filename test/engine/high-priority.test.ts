/**
 * The high-priority guard's recount: it walks only the fragments it was told hold high-priority
 * work, and must still drop work lost on a path that never reported its end.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.ts';
import { HighPriorityGuard, SUSTAINED_OVERLOAD_MS } from '../../engine/high-priority.ts';
import { NodeLedger } from '../../engine/placement.ts';
import { PoolSet } from '../../engine/pools.ts';
import { buildTopology } from '../../engine/topology.ts';
import type { NodeScore, Request } from '../../engine/types.ts';

const topo = buildTopology({ nodes: [{ id: 0, cpus: [0, 1], memory_kb: 10_000_000, distances: [10] }] });
const req = (id: string, priority: Request['priority']): Request => ({
  id,
  profile: 'svc',
  cpus: 1,
  memory_kb: 0,
  priority,
});
const score = (): NodeScore => ({
  node: 0,
  eligible: true,
  resource: 1,
  locality: 1,
  affinity: 0,
  balance: 1,
  pressure_factor: 1,
  total: 1,
});

function setup() {
  const ledger = new NodeLedger(topo, 2);
  const pools = new PoolSet(parseConfig({ profiles: { svc: { memory_kb: 1_000 } } }), ledger);
  const guard = new HighPriorityGuard();
  // Sustained overload, and node 0's 2 CPUs fully booked: a normal request may not add to it while high-priority work runs there.
  guard.tick(0, true);
  guard.tick(SUSTAINED_OVERLOAD_MS, true);
  ledger.reserve(0, 2, 0);
  const excluded = () => {
    const s = [score()];
    guard.exclude(s, req('n', 1), SUSTAINED_OVERLOAD_MS, ledger);
    return s[0]?.eligible === false;
  };
  return { pools, guard, excluded };
}

describe('HighPriorityGuard recount', () => {
  it('counts a placed high-priority request until its fragment loses it, even unreported', () => {
    const { pools, guard, excluded } = setup();
    const f = pools.create('svc', 0, [0, 1], 0);
    pools.transition(f, 'active');
    f.request = req('h', 2);
    guard.placed(f);
    guard.tick(SUSTAINED_OVERLOAD_MS, true);
    expect(excluded()).toBe(true);
    f.request = undefined; // lost without ended(), as a hang found by a health check is
    expect(excluded()).toBe(true); // until the next recount
    guard.tick(SUSTAINED_OVERLOAD_MS, true);
    expect(excluded()).toBe(false);
  });

  it('does not count normal-priority work, nor high-priority work on a warm or stopped fragment', () => {
    const { pools, guard, excluded } = setup();
    const a = pools.create('svc', 0, [0, 1], 0);
    a.request = req('n1', 1);
    guard.placed(a);
    expect(excluded()).toBe(false);
    const b = pools.create('svc', 0, [0, 1], 0);
    b.request = req('h', 3);
    guard.placed(b);
    pools.transition(b, 'stopped');
    guard.tick(SUSTAINED_OVERLOAD_MS, true);
    expect(excluded()).toBe(false);
  });
});
