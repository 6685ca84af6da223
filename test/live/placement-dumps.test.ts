/**
 * Placement on real machines' topologies: hwloc's dumps of real hosts, read by the live reader,
 * drive the engine. Expectations follow from each dump's own facts (its SLIT, offline CPUs,
 * cgroup-restricted sets, CPU-less nodes), worked out below per case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTopology, Orchestrator, parseConfig, type Observation, type Request } from '../../engine/index.ts';
import type { TopologyJson } from '../../engine/topology.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { readTopology } from '../../formats/host/topology.ts';
import { unpackHwlocDump } from '../helpers.ts';

const DUMPS = ['16amd64-8n2c', '32amd64-4s2n4c-cgroup2', 'offline-cpu0-node0', 'nvidiagpunumanodes'];
const topo = new Map<string, TopologyJson>();
let work = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fgo-dumps-'));
  for (const name of DUMPS) topo.set(name, readTopology(resolveRoots({ fsRoot: unpackHwlocDump(name, work) })));
}, 120_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const line = { some: { avg10: 0, avg60: 0, avg300: 0 } };
const obs = (t_ms: number): Observation => ({ t_ms, psi: { cpu: line, memory: line, io: line } });
const engine = (name: string, config: object = {}) =>
  new Orchestrator({
    config: parseConfig({ placement: { jitter: false }, ...config }),
    topology: buildTopology(topo.get(name)),
    seed: 'dumps',
  });
const req = (id: string, extra: Partial<Request> = {}): Request => ({
  id,
  profile: 'p',
  cpus: 0.5,
  memory_kb: 65_536,
  priority: 1,
  ...extra,
});

describe('placement on real topologies', () => {
  it('16amd64-8n2c (8 Opteron nodes of 2 CPUs): a request whose memory is on node h lands on h, for every h', () => {
    const t = topo.get('16amd64-8n2c') as TopologyJson;
    expect(t.nodes.map((n) => n.cpus.length)).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    const e = engine('16amd64-8n2c');
    for (const n of t.nodes) {
      const d = e.schedule(req(`r${n.id}`, { memory_home: n.id }), obs(n.id));
      expect(d.action).toBe('place');
      expect(d.node).toBe(n.id);
      expect(n.cpus).toEqual(expect.arrayContaining(d.cpus as number[]));
    }
  });

  it('16amd64-8n2c: once its home node is busier, a process goes to a node nearest to its memory by the SLIT', () => {
    const t = topo.get('16amd64-8n2c') as TopologyJson;
    const row = t.nodes[0]?.distances as number[];
    const nearest = Math.min(...row.slice(1));
    // Exclusive adoptions with their memory on node 0 (min_shared_cpus 0 lets both CPUs go).
    const e = engine('16amd64-8n2c', {
      placement: { jitter: false, min_shared_cpus: 0 },
      profiles: { solo: { cpus: 1, memory_kb: 1024, exclusive_cpus: 1 } },
    });
    const first = e.adopt({ id: 'pid1', profile: 'solo', memory_home: 0 }, obs(0));
    expect(first).toMatchObject({ node: 0, cpus: [0] });
    // Node 0 is now half booked; the empty nodes out-score it on resource and balance, and among
    // them locality (10 / distance) picks one nearest to node 0 — never a far one.
    for (let i = 2; i <= 4; i++) {
      const d = e.adopt({ id: `pid${i}`, profile: 'solo', memory_home: 0 }, obs(i));
      expect(d.action).toBe('place');
      expect(d.node === 0 || row[d.node as number] === nearest).toBe(true);
    }
  });

  it("32amd64-4s2n4c-cgroup2: placements stay inside the cgroup's allowed CPUs and nodes", () => {
    const t = topo.get('32amd64-4s2n4c-cgroup2') as TopologyJson;
    expect(t.allowed_cpus.length).toBeLessThan(t.online_cpus.length); // the dump's process is restricted
    const e = engine('32amd64-4s2n4c-cgroup2');
    const allowed = new Set(t.allowed_cpus);
    for (let i = 0; i < 40; i++) {
      const d = e.schedule(req(`r${i}`, { memory_home: t.nodes[i % t.nodes.length]?.id }), obs(i));
      if (d.action !== 'place') continue;
      expect(t.allowed_nodes).toContain(d.node);
      for (const c of d.cpus ?? []) expect(allowed.has(c)).toBe(true);
    }
  });

  it('offline-cpu0-node0: CPU 0 is offline and never handed out', () => {
    const t = topo.get('offline-cpu0-node0') as TopologyJson;
    expect(t.online_cpus).not.toContain(0);
    const e = engine('offline-cpu0-node0', { profiles: { solo: { cpus: 1, memory_kb: 1024, exclusive_cpus: 1 } } });
    for (let i = 0; i < 6; i++) {
      const d = e.schedule(req(`r${i}`), obs(i));
      if (d.action === 'place') expect(d.cpus).not.toContain(0);
      const x = e.adopt({ id: `pid${i + 1}`, profile: 'solo' }, obs(i));
      if (x.action === 'place') expect(x.cpus).not.toContain(0);
    }
  });

  it('nvidiagpunumanodes: a CPU-less GPU memory node is never chosen; work whose memory is there runs on a CPU node nearest to it', () => {
    const t = topo.get('nvidiagpunumanodes') as TopologyJson;
    const gpu = t.nodes.filter((n) => n.cpus.length === 0);
    expect(gpu.length).toBeGreaterThan(0);
    for (const g of gpu) {
      const e = engine('nvidiagpunumanodes');
      const d = e.schedule(req(`r${g.id}`, { memory_home: g.id }), obs(0));
      expect(d.action).toBe('place');
      const chosen = t.nodes.find((n) => n.id === d.node);
      expect(chosen?.cpus.length).toBeGreaterThan(0);
      const idx = t.nodes.findIndex((n) => n.id === g.id);
      const dist = (n: { distances: number[] }) => n.distances[idx] as number;
      const nearest = Math.min(...t.nodes.filter((n) => n.cpus.length > 0).map(dist));
      expect(dist(chosen as { distances: number[] })).toBe(nearest);
    }
  });
});
