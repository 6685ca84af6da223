/**
 * HostSampler against this machine's real /proc and /sys (one NUMA node, two CPUs), and against
 * fake roots in a temp dir: a procfs without pressure/ (degraded mode) and a sysfs without node
 * directories (MemFree from /proc/meminfo).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.ts';
import { Orchestrator } from '../../engine/orchestrator.ts';
import { observationSchema, problemsOf } from '../../engine/schemas.ts';
import { buildTopology } from '../../engine/topology.ts';
import type { Observation, PsiSet } from '../../engine/types.ts';
import { parseMeminfo } from '../../live/meminfo.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { HostSampler, loadCpuSome } from '../../live/sampler.ts';
import { readTopology } from '../../formats/host/topology.ts';

const roots = resolveRoots();
const memTotal = parseMeminfo(readFileSync('/proc/meminfo', 'latin1')).MemTotal as number;

function busy(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
}

function expectFractions(psi: PsiSet): void {
  for (const r of ['cpu', 'memory', 'io'] as const) {
    for (const line of [psi[r].some, psi[r].full]) {
      if (!line) continue;
      for (const v of [line.avg10, line.avg60, line.avg300]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
  }
}

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'fgo-sampler-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** Copy a procfs file (copyFileSync would copy nothing: procfs reports size 0). */
function copyProc(name: string, dir: string): void {
  writeFileSync(join(dir, name), readFileSync(join('/proc', name)));
}

/**
 * A /proc/stat for two CPUs (user nice system idle iowait irq softirq steal guest guest_nice):
 * cpu0 has `busy0` user and `idle0` idle ticks, cpu1 only `idle1` idle ticks.
 */
function fakeStat(running: number, busy0: number, idle0: number, idle1: number): string {
  return [
    `cpu  ${busy0} 0 0 ${idle0 + idle1} 0 0 0 0 0 0`,
    `cpu0 ${busy0} 0 0 ${idle0} 0 0 0 0 0 0`,
    `cpu1 0 0 0 ${idle1} 0 0 0 0 0 0`,
    'btime 1700000000',
    `procs_running ${running}`,
    'procs_blocked 0',
    '',
  ].join('\n');
}

describe('HostSampler on this machine', () => {
  const topoJson = readTopology(roots);

  it('two samples around a busy loop: node cpu_util, PSI fractions, free memory, online CPUs', () => {
    const s = new HostSampler(roots, topoJson);
    const t0 = Date.now();
    const first = s.sample(t0);
    expect(first.nodes?.map((n) => n.id)).toEqual(topoJson.nodes.map((n) => n.id));
    expect(first.nodes?.every((n) => n.cpu_util === undefined)).toBe(true); // no previous /proc/stat yet
    busy(300);
    const second = s.sample(t0 + 300);
    expect(second.t_ms).toBe(t0 + 300);
    const n0 = second.nodes?.find((n) => n.id === 0);
    expect(n0?.cpu_util).toBeGreaterThan(0);
    expect(n0?.cpu_util).toBeLessThanOrEqual(1);
    for (const obs of [first, second]) {
      expectFractions(obs.psi);
      expect(obs.psi.cpu.some.total_us).toBeTypeOf('number'); // read from the kernel, not estimated
      const free = obs.nodes?.find((n) => n.id === 0)?.mem_free_kb as number;
      expect(free).toBeGreaterThan(0);
      expect(free).toBeLessThanOrEqual(memTotal);
      expect(obs.online_cpus).toEqual(topoJson.online_cpus);
      expect(problemsOf(observationSchema, obs)).toEqual([]);
    }
    expect(s.psiAvailable).toBe(true);
    expect(s.degraded).toBe(false);
    expect(s.warnings).toEqual([]);
  });

  it('accepts a built Topology as well, and the engine schedules on its observation', () => {
    const topology = buildTopology(readTopology(roots));
    const s = new HostSampler(roots, topology);
    s.sample(1_000);
    busy(50);
    const obs: Observation = s.sample(1_100);
    expect(problemsOf(observationSchema, obs)).toEqual([]);
    const orchestrator = new Orchestrator({ config: parseConfig({}), topology, seed: 'sampler-test' });
    const d = orchestrator.schedule({ id: 'r', profile: 'p', cpus: 0.1, memory_kb: 1000, priority: 1 }, obs);
    expect(d.request_id).toBe('r');
    expect(['place', 'defer', 'shed', 'reject']).toContain(d.action);
    expect(d.t_ms).toBe(1_100);
  });

  it('rejects a time that is not a non-negative number', () => {
    const s = new HostSampler(roots, topoJson);
    expect(() => s.sample(-1)).toThrow(RangeError);
    expect(() => s.sample(Number.NaN)).toThrow(RangeError);
  });

  it('validates a topology document given as JSON', () => {
    expect(() => new HostSampler(roots, { nodes: 'x' } as never)).toThrow();
  });
});

describe('HostSampler degraded mode (no <proc>/pressure)', () => {
  it('warns once and estimates psi from procs_running; still a valid Observation', () => {
    const proc = tmp();
    writeFileSync(join(proc, 'stat'), fakeStat(3, 1000, 1000, 2000)); // 3 runnable on 2 online CPUs: (3 − 2) / 2 = 0.5
    copyProc('meminfo', proc);
    const fake = resolveRoots({ sysfsRoot: '/sys', procfsRoot: proc });
    const topoJson = readTopology(roots);
    expect(topoJson.online_cpus).toEqual([0, 1]);
    const s = new HostSampler(fake, topoJson);

    const a = s.sample(0);
    expect(s.psiAvailable).toBe(false);
    expect(s.degraded).toBe(true);
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatch(/PSI unavailable, degraded mode: .*pressure: not present/);
    expect(a.psi).toEqual({
      cpu: { some: { avg10: 0.5, avg60: 0.5, avg300: 0.5 } },
      memory: { some: { avg10: 0, avg60: 0, avg300: 0 } },
      io: { some: { avg10: 0, avg60: 0, avg300: 0 } },
    });
    expect(problemsOf(observationSchema, a)).toEqual([]);

    // load gone: the averages decay as exp(−Δt/window); 10 s later avg10 = 0.5·e^−1
    writeFileSync(join(proc, 'stat'), fakeStat(1, 1050, 1050, 2100)); // +50 busy +50 idle, +100 idle
    const b = s.sample(10_000);
    expect(b.psi.cpu.some.avg10).toBeCloseTo(0.5 * Math.exp(-1), 10);
    expect(b.psi.cpu.some.avg60).toBeCloseTo(0.5 * Math.exp(-10 / 60), 10);
    expect(b.psi.cpu.some.avg300).toBeCloseTo(0.5 * Math.exp(-10 / 300), 10);
    expect(b.psi.memory.some.avg10).toBe(0);
    expect(s.warnings).toHaveLength(1); // reported once, not per sample
    expectFractions(b.psi);
    expect(problemsOf(observationSchema, b)).toEqual([]);
    // node 0 (cpu0 + cpu1): 50 busy ticks of 200 = 0.25; the first sample has no cpu_util
    expect(a.nodes?.[0]?.cpu_util).toBeUndefined();
    expect(b.nodes?.[0]?.cpu_util).toBe(0.25);
    expect(b.nodes?.[0]?.mem_free_kb).toBeGreaterThan(0);

    const topology = buildTopology(topoJson);
    const orchestrator = new Orchestrator({ config: parseConfig({}), topology, seed: 'degraded' });
    const d = orchestrator.schedule({ id: 'r', profile: 'p', cpus: 0.1, memory_kb: 1000, priority: 1 }, b);
    expect(d.request_id).toBe('r');
  });

  it('loadCpuSome: runnable beyond the CPUs, per CPU, clamped to 0–1', () => {
    expect(loadCpuSome(1, 2)).toBe(0);
    expect(loadCpuSome(3, 2)).toBe(0.5);
    expect(loadCpuSome(10, 2)).toBe(1);
    expect(loadCpuSome(5, 0)).toBe(0);
  });
});

describe('HostSampler on a sysfs without node directories', () => {
  it('takes node 0 free memory from <proc>/meminfo and online CPUs from cpu/online', () => {
    const sys = tmp();
    mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
    writeFileSync(join(sys, 'devices/system/cpu/online'), '0-1\n');
    const proc = tmp();
    copyProc('stat', proc);
    writeFileSync(join(proc, 'meminfo'), 'MemTotal:        4000000 kB\nMemFree:         1234567 kB\n');
    const fake = resolveRoots({ sysfsRoot: sys, procfsRoot: proc });
    const topo = {
      nodes: [{ id: 0, cpus: [0, 1], memory_kb: 4000000, distances: [10] }],
      online_cpus: [0, 1],
      allowed_cpus: [0, 1],
      allowed_nodes: [0],
    };
    const s = new HostSampler(fake, topo);
    const obs = s.sample(5);
    expect(obs.nodes).toEqual([{ id: 0, mem_free_kb: 1234567 }]);
    expect(obs.online_cpus).toEqual([0, 1]);
    expect(problemsOf(observationSchema, obs)).toEqual([]);
    expect(s.degraded).toBe(true);
  });

  it('leaves online_cpus out, with one warning, when cpu/online is missing', () => {
    const sys = tmp();
    mkdirSync(join(sys, 'devices/system/cpu'), { recursive: true });
    const proc = tmp();
    copyProc('stat', proc);
    copyProc('meminfo', proc);
    const fake = resolveRoots({ sysfsRoot: sys, procfsRoot: proc });
    const topo = {
      nodes: [{ id: 0, cpus: [0, 1], memory_kb: 4000000, distances: [10] }],
      online_cpus: [0, 1],
      allowed_cpus: [0, 1],
      allowed_nodes: [0],
    };
    const s = new HostSampler(fake, topo);
    const a = s.sample(0);
    const b = s.sample(1000);
    expect(a.online_cpus).toBeUndefined();
    expect(b.online_cpus).toBeUndefined();
    expect(s.warnings.filter((w) => w.includes('cpu/online'))).toHaveLength(1);
    expect(s.warnings).toHaveLength(2); // the online file and the degraded mode, each once
    expect(problemsOf(observationSchema, b)).toEqual([]);
  });
});
