/**
 * Adopt mode in the engine: running processes placed as fragments of their profile, released when
 * gone, re-adopted where they were after a restart, and re-placed when nodes drift apart.
 */
import { describe, expect, it } from 'vitest';
import { buildTopology, Orchestrator, parseConfig, type Observation } from '../../engine/index.ts';

/** This machine's shape split in two: node 0 = cpu0, node 1 = cpu1. */
const twoSolo = () =>
  buildTopology({
    nodes: [
      { id: 0, cpus: [0], memory_kb: 4_000_000, distances: [10, 20] },
      { id: 1, cpus: [1], memory_kb: 4_000_000, distances: [20, 10] },
    ],
    online_cpus: [0, 1],
    allowed_cpus: [0, 1],
    allowed_nodes: [0, 1],
  });
const twoByTwo = () =>
  buildTopology({
    nodes: [
      { id: 0, cpus: [0, 1], memory_kb: 4_000_000, distances: [10, 21] },
      { id: 1, cpus: [2, 3], memory_kb: 4_000_000, distances: [21, 10] },
    ],
    online_cpus: [0, 1, 2, 3],
    allowed_cpus: [0, 1, 2, 3],
    allowed_nodes: [0, 1],
  });
const line = { some: { avg10: 0, avg60: 0, avg300: 0 } };
const obs = (t_ms: number): Observation => ({ t_ms, psi: { cpu: line, memory: line, io: line } });
const solo = {
  profiles: { solo: { exclusive_cpus: 1, cpus: 1, memory_kb: 1024 } },
  placement: { jitter: false, min_shared_cpus: 0 },
};

describe('adopt', () => {
  it('two processes of a one-exclusive-CPU profile get disjoint single CPUs, one per node', () => {
    const e = new Orchestrator({ config: parseConfig(solo), topology: twoSolo(), seed: 's' });
    const a = e.adopt({ id: 'pid100', profile: 'solo' }, obs(0));
    const b = e.adopt({ id: 'pid200', profile: 'solo' }, obs(1));
    expect(a.action).toBe('place');
    expect(b.action).toBe('place');
    expect(a.cpus).toHaveLength(1);
    expect(b.cpus).toHaveLength(1);
    expect(new Set([...(a.cpus ?? []), ...(b.cpus ?? [])])).toEqual(new Set([0, 1]));
    // Each CPU is its node's only CPU, so the node follows from the CPU.
    expect(a.node).toBe(a.cpus?.[0]);
    expect(a.commands).toEqual([
      { type: 'pin', fragment: 'pid100', node: a.node, cpus: a.cpus, reason: `adopted: node ${a.node} scored best` },
    ]);
    // No CPU left for a third: it is rejected, not overbooked.
    const c = e.adopt({ id: 'pid300', profile: 'solo' }, obs(2));
    expect(c.action).toBe('reject');
    expect(c.reason).toMatch(/^adopt pid300: no node has room now/);
  });

  it('memory home decides the node when all else is equal', () => {
    const e = new Orchestrator({ config: parseConfig(solo), topology: twoSolo(), seed: 's' });
    expect(e.adopt({ id: 'pid1', profile: 'solo', memory_home: 1 }, obs(0)).node).toBe(1);
  });

  it('release frees the CPU for the next process; an unknown or pool fragment cannot be released', () => {
    const e = new Orchestrator({ config: parseConfig(solo), topology: twoSolo(), seed: 's' });
    const a = e.adopt({ id: 'pid1', profile: 'solo' }, obs(0));
    e.adopt({ id: 'pid2', profile: 'solo' }, obs(1));
    expect(e.release('pid1', 'exited', obs(2))).toEqual([]);
    const c = e.adopt({ id: 'pid3', profile: 'solo' }, obs(3));
    expect(c.cpus).toEqual(a.cpus);
    expect(() => e.release('pid1', 'exited', obs(4))).toThrow(/unknown fragment pid1/);
    expect(() => e.adopt({ id: 'pid3', profile: 'solo' }, obs(5))).toThrow(/exists already/);
    expect(() => e.adopt({ id: 'web-0', profile: 'solo' }, obs(5))).toThrow(/no '-'/);
  });

  it('re-adoption keeps the placement the cgroup recorded when it is still valid', () => {
    const e = new Orchestrator({ config: parseConfig(solo), topology: twoSolo(), seed: 's' });
    const d = e.adopt({ id: 'pid7', profile: 'solo', at: { node: 1, cpus: [1] } }, obs(0));
    expect(d).toMatchObject({
      action: 'place',
      node: 1,
      cpus: [1],
      reason: `re-adopted pid7 on node 1 (score ${d.scores[1]?.total})`,
    });
    // cpu1 is taken now, so a second process claiming it is placed afresh on node 0.
    const d2 = e.adopt({ id: 'pid8', profile: 'solo', at: { node: 1, cpus: [1] } }, obs(1));
    expect(d2).toMatchObject({ node: 0, cpus: [0] });
    expect(d2.reason).toMatch(/^adopted pid8/);
  });

  it('adopted processes are never healed: no heartbeat and a huge RSS raise no incident', () => {
    const e = new Orchestrator({ config: parseConfig(solo), topology: twoSolo(), seed: 's' });
    e.adopt({ id: 'pid1', profile: 'solo' }, obs(0));
    const cmds = e.tick({ ...obs(60_000), fragments: [{ id: 'pid1', rss_kb: 1e9, heartbeat_ms: 0 }] });
    expect(cmds.filter((c) => c.type !== 'retry')).toEqual([]);
    expect(e.incidents().open).toEqual([]);
  });
});

describe('rebalance (re-placement of adopted processes)', () => {
  // Shared processes of 1 CPU each; overcommit 2 lets three sit on node 0's two CPUs.
  const cfg = { profiles: { batch: { cpus: 1, memory_kb: 1024 } }, placement: { jitter: false, cpu_overcommit: 2 } };

  it('moves one process per cycle from the busiest node until the gap closes', () => {
    const e = new Orchestrator({ config: parseConfig(cfg), topology: twoByTwo(), seed: 's' });
    for (const id of ['pid1', 'pid2', 'pid3'])
      expect(e.adopt({ id, profile: 'batch', at: { node: 0, cpus: [] } }, obs(0)).node).toBe(0);
    // Loads: node 0 = min(1, 3/2) = 1, node 1 = 0: gap 1 > 0.25. Moving 1 CPU shifts 1/2 each way:
    // 0.5 vs 0.5 narrows the gap, so pid1 (first by id) moves.
    const first = e.tick(obs(1_000)).filter((c) => c.type === 'migrate');
    expect(first).toEqual([
      {
        type: 'migrate',
        fragment: 'pid1',
        from: 0,
        to: 1,
        cpus: [2, 3],
        reason: 're-place: load 1 on node 0 vs 0 on node 1 (gap > 0.25)',
      },
    ]);
    // Next cycle (30 s on): node 0 = 2/2 = 1, node 1 = 1/2 = 0.5, gap 0.5; a move would give
    // 0.5 vs 1, no narrower, so nothing moves.
    expect(e.tick(obs(31_000)).filter((c) => c.type === 'migrate')).toEqual([]);
  });

  it('moves processes off a node whose CPUs all went offline', () => {
    const e = new Orchestrator({ config: parseConfig(cfg), topology: twoByTwo(), seed: 's' });
    e.adopt({ id: 'pid1', profile: 'batch', at: { node: 1, cpus: [] } }, obs(0));
    const cmds = e.tick({ ...obs(1_000), online_cpus: [0, 1] });
    expect(cmds.filter((c) => c.type === 'migrate')).toEqual([
      {
        type: 'migrate',
        fragment: 'pid1',
        from: 1,
        to: 0,
        cpus: [0, 1],
        reason: 're-place: node 1 has no usable CPU left',
      },
    ]);
  });
});
