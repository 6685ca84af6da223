/**
 * CPU time from /proc/stat, and the utilization of each CPU, each node and the whole host between
 * two samples. The pure parser takes the text and a file name (used only in errors); the reader
 * goes through HostRoots and throws HostFileError naming the file and the problem.
 */
import { join } from 'node:path';
import { contentLines, HostFileError, parseCount, readHostFile } from './procread.ts';
import type { HostRoots } from '../formats/host/roots.ts';

/** Cumulative CPU time in USER_HZ ticks (jiffies, normally 1/100 s), as /proc/stat prints it. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  /** Already included in `user` by the kernel; kept for completeness, never added again. */
  guest: number;
  /** Already included in `nice`. */
  guest_nice: number;
}

export const CPU_TIME_FIELDS = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
  'guest',
  'guest_nice',
] as const;

export interface ProcStat {
  /** The aggregate `cpu` line. */
  total: CpuTimes;
  /** One entry per `cpuN` line, in file order (offline CPUs have no line). */
  cpus: Array<{ cpu: number; times: CpuTimes }>;
  btime?: number;
  procs_running?: number;
  procs_blocked?: number;
}

function parseCpuTimes(fields: string[], file: string, label: string): CpuTimes {
  // Kernels before 2.6 print 4 fields; iowait/irq/softirq came in 2.6, steal 2.6.11, guest 2.6.24,
  // guest_nice 2.6.33. Missing trailing fields are 0; extra ones (future) are ignored.
  if (fields.length < 4)
    throw new HostFileError(file, `"${label}" line has ${fields.length} time fields, at least 4 expected`);
  const t = {} as CpuTimes;
  CPU_TIME_FIELDS.forEach((name, i) => {
    t[name] = i < fields.length ? parseCount(fields[i], file, `${label} ${name}`) : 0;
  });
  return t;
}

export function parseProcStat(text: string, file = '/proc/stat'): ProcStat {
  let total: CpuTimes | undefined;
  const cpus: ProcStat['cpus'] = [];
  const out: Omit<ProcStat, 'total' | 'cpus'> = {};
  for (const line of contentLines(text)) {
    const [key, ...rest] = line.split(/\s+/);
    if (key === undefined) continue;
    if (key === 'cpu') total = parseCpuTimes(rest, file, 'cpu');
    else if (/^cpu\d+$/.test(key))
      cpus.push({ cpu: parseCount(key.slice(3), file, `${key} number`), times: parseCpuTimes(rest, file, key) });
    else if (key === 'btime' || key === 'procs_running' || key === 'procs_blocked')
      out[key] = parseCount(rest[0], file, key);
  }
  if (!total) throw new HostFileError(file, 'no aggregate "cpu" line');
  return { total, cpus, ...out };
}

export function readProcStat(roots: HostRoots): ProcStat {
  const file = join(roots.proc, 'stat');
  const got = readHostFile(file);
  if (!got.ok) throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
  return parseProcStat(got.text, file);
}

/** All ticks of a CPU: guest/guest_nice are not added, the kernel already counts them in user/nice. */
function sumTicks(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
}

export interface CpuUtil {
  /** Busy share (0–1) of each CPU present in both samples with time elapsed. */
  cpus: Array<{ cpu: number; busy: number; ticks: number }>;
  /** Per node: busy ticks ÷ all ticks over its CPUs (a tick-weighted mean of its CPUs). */
  nodes: Array<{ node: number; busy: number; cpus: number }>;
  /** From the aggregate line; undefined when no time elapsed. */
  total?: number;
  /** CPUs skipped and why (offline in one sample, counters reset). */
  warnings: string[];
}

/**
 * Busy fractions between two /proc/stat samples. Busy = all ticks except idle and iowait, so
 * steal (time the hypervisor gave to others) counts as busy: it is capacity this host does not
 * have. A single field going backwards (the NO_HZ idle/iowait accounting can) counts as 0; a CPU
 * whose total went backwards or did not move is skipped. `cpuToNode` (e.g. from cpuNodeMap) gives
 * each CPU's node; CPUs it does not name count for no node.
 */
export function cpuUtil(prev: ProcStat, next: ProcStat, cpuToNode?: ReadonlyMap<number, number>): CpuUtil {
  const warnings: string[] = [];
  const before = new Map(prev.cpus.map((c) => [c.cpu, c.times]));
  const cpus: CpuUtil['cpus'] = [];
  const perNode = new Map<number, { busy: number; ticks: number; cpus: number }>();
  const delta = (a: CpuTimes, b: CpuTimes) => {
    let busy = 0;
    let all = 0;
    for (const f of ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const) {
      const d = Math.max(0, b[f] - a[f]);
      all += d;
      if (f !== 'idle' && f !== 'iowait') busy += d;
    }
    return { busy, all, backwards: sumTicks(b) < sumTicks(a) };
  };
  for (const { cpu, times } of next.cpus) {
    const old = before.get(cpu);
    if (!old) {
      warnings.push(`cpu${cpu}: absent from the earlier sample (came online); skipped`);
      continue;
    }
    before.delete(cpu);
    const d = delta(old, times);
    if (d.backwards) {
      warnings.push(`cpu${cpu}: counters went backwards (CPU hotplug?); skipped`);
      continue;
    }
    if (d.all === 0) continue; // no tick elapsed on this CPU: nothing to say
    const busy = d.busy / d.all;
    cpus.push({ cpu, busy, ticks: d.all });
    const node = cpuToNode?.get(cpu);
    if (node !== undefined) {
      const acc = perNode.get(node) ?? { busy: 0, ticks: 0, cpus: 0 };
      acc.busy += d.busy;
      acc.ticks += d.all;
      acc.cpus += 1;
      perNode.set(node, acc);
    }
  }
  for (const cpu of before.keys()) warnings.push(`cpu${cpu}: absent from the later sample (went offline); skipped`);
  const nodes = [...perNode.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([node, a]) => ({ node, busy: a.busy / a.ticks, cpus: a.cpus }));
  const t = delta(prev.total, next.total);
  const result: CpuUtil = { cpus, nodes, warnings };
  if (!t.backwards && t.all > 0) result.total = t.busy / t.all;
  return result;
}

/** CPU → node from a topology's nodes (engine TopologyJson or anything shaped alike). */
export function cpuNodeMap(topology: {
  nodes: ReadonlyArray<{ id: number; cpus: readonly number[] }>;
}): Map<number, number> {
  const m = new Map<number, number>();
  for (const n of topology.nodes) for (const c of n.cpus) m.set(c, n.id);
  return m;
}
