import { describe, expect, it } from 'vitest';
import { buildTopology } from '../../engine/index.ts';
import { Host, PsServer, type Task } from '../../sim/host.ts';
import { thrashStall } from '../../sim/thrash.ts';
import { PRESETS } from '../../sim/topologies.ts';

const task = (work_us: number, weight = 1, done = () => {}): Task => ({
  work_us,
  weight,
  finish_v: 0,
  heap_i: -1,
  done,
});

describe('PsServer: processor sharing', () => {
  it('one task on two CPUs runs at full speed', () => {
    const s = new PsServer(2);
    s.add(task(1000), 0);
    expect(s.nextFinish_us(0)).toBe(1000);
  });

  it('three equal tasks on two CPUs each get 2/3 of a CPU', () => {
    const s = new PsServer(2);
    for (let i = 0; i < 3; i++) s.add(task(1000), 0);
    // rate min(1, 2/3) → 1000 µs of work takes 1500 µs
    expect(s.nextFinish_us(0)).toBe(1500);
    expect(s.popFinished(1500).length).toBe(3);
  });

  it('a task joining later shares from then on (hand-computed)', () => {
    const s = new PsServer(1);
    const a = task(1000),
      b = task(1000);
    s.add(a, 0);
    s.add(b, 500); // a has 500 left; from 500 both run at 1/2
    // a finishes at 500 + 500/0.5 = 1500; then b (500 left at 1500) alone: 2000
    expect(s.nextFinish_us(500)).toBe(1500);
    expect(s.popFinished(1500)).toEqual([a]);
    expect(s.nextFinish_us(1500)).toBe(2000);
  });

  it('removing a task keeps its remaining work (so it can move) and speeds up the rest', () => {
    const s = new PsServer(1);
    const a = task(1000),
      b = task(1000);
    s.add(a, 0);
    s.add(b, 0);
    s.remove(b, 400); // each did 200 → b has 800 left
    expect(b.work_us).toBeCloseTo(800, 6);
    expect(s.nextFinish_us(400)).toBe(1200); // a: 800 left at full speed
  });

  it('weights: a 2-CPU task and a 1-CPU task on 2 CPUs get 4/3 and 2/3', () => {
    const s = new PsServer(2);
    const big = task(4000, 2),
      small = task(1000, 1);
    s.add(big, 0);
    s.add(small, 0);
    // per-weight rate 2/3: small needs 1000/(1×2/3) = 1500; big's 4000/(2×2/3) = 3000
    expect(s.nextFinish_us(0)).toBe(1500);
    s.popFinished(1500);
    // big has 4000 − 2×(2/3)×1500 = 2000 left, alone at rate 1 per weight → 2000/2 = 1000 more
    expect(s.nextFinish_us(1500)).toBe(2500);
  });

  it('a memory stall slows everyone; no CPU stops everything', () => {
    const s = new PsServer(1);
    s.add(task(1000), 0);
    s.setStall(0.5, 0);
    expect(s.nextFinish_us(0)).toBe(2000);
    s.setCapacity(0, 0);
    expect(s.nextFinish_us(0)).toBeUndefined();
  });

  it('utilization integral counts busy CPUs', () => {
    const s = new PsServer(2);
    s.add(task(1000), 0);
    s.advance(1000);
    expect(s.busy_unit_us).toBe(1000); // one of two CPUs busy for 1000 µs
  });
});

describe('Host', () => {
  const host = new Host(buildTopology(PRESETS['8n-128c']!()), 4, 0);

  it('remote slowdown from the real SLIT: 1 + mi × (d/10 − 1)', () => {
    expect(host.remoteFactor(0, 0, 0.8)).toBe(1);
    expect(host.remoteFactor(0, 3, 0.5)).toBeCloseTo(1 + 0.5 * (22 / 10 - 1), 12); // 1.6
    expect(host.remoteFactor(0, 1, 1)).toBeCloseTo(1.6, 12); // 16/10
    expect(host.remoteFactor(undefined, 5, 1)).toBe(1);
  });

  it('thrash stall: none up to capacity, then a cliff: s = 30f ÷ (1 + 30f), f = overfill ÷ (1 + overfill), capped at 0.95', () => {
    expect(thrashStall(100, 100)).toBe(0);
    expect(thrashStall(101, 100)).toBeCloseTo(0.2970297 / 1.2970297, 6); // 1 % over: f = 1/101
    expect(thrashStall(110, 100)).toBeCloseTo(30 / 41, 12); // f = 1/11 → (30/11) ÷ (41/11)
    expect(thrashStall(200, 100)).toBeCloseTo(15 / 16, 12); // f = 1/2
    expect(thrashStall(1000, 100)).toBe(0.95); // 27/28 would be more: capped
    expect(thrashStall(5, 0)).toBe(0); // a node without memory cannot thrash
  });

  it("a neighbour's background weight shares the CPUs like tasks do, and counts as busy", () => {
    const s = new PsServer(2);
    s.setBackground(2, 0);
    s.add(task(1000), 0); // 3 runnable on 2 CPUs: 2/3 speed → 1500 µs
    expect(s.nextFinish_us(0)).toBe(1500);
    s.advance(1500);
    expect(s.busy_unit_us).toBe(3000); // both CPUs busy throughout
    s.popFinished(1500);
    s.advance(2500);
    expect(s.busy_unit_us).toBe(5000); // the neighbour alone still fills both CPUs
    expect(() => s.setBackground(-1, 2500)).toThrow(RangeError);
  });

  it('cpu some is (k − c)/c clamped: 1, 3, 4 tasks on 2 CPUs → 0, 0.5, 1', () => {
    const h = new Host(buildTopology(PRESETS['1n-2c']!()), 1, 0);
    const n = h.nodes[0]!;
    const fr = (k: number) => {
      const s = new PsServer(2);
      for (let i = 0; i < k; i++) s.add(task(1e9), 0);
      return h.nodeStall({ ...n, cpu: s }).cpu_some;
    };
    expect([fr(0), fr(1), fr(2), fr(3), fr(4), fr(6)]).toEqual([0, 0, 0, 0.5, 1, 1]);
  });
});
