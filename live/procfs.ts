/**
 * procfs/sysfs readers for the live agent: CPU time (/proc/stat) and utilization between two
 * samples, per-node memory (node<N>/meminfo), and a process's stat, status and numa_maps.
 *
 * Pure parsers take the text and a file name (used only in errors); thin wrappers read through
 * HostRoots. Per-process readers return `{ gone: true }` when the process exited between listing
 * and reading (ENOENT/ESRCH) — the normal race on a live host — and throw HostFileError, naming the
 * file and the problem, for anything else.
 */
import { join } from 'node:path';
import { CpuListError, parseCpuList } from '../formats/host/cpulist.ts';
import { numbered } from '../formats/host/files.ts';
import { contentLines, HostFileError, isGoneCode, parseCount, readHostFile } from './procread.ts';
import type { HostRoots } from '../formats/host/roots.ts';

// ---------------------------------------------------------------------------------------------
// /proc/stat

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

// ---------------------------------------------------------------------------------------------
// meminfo

/** "Key: value [kB]" lines → numbers (kB where the unit is kB, plain counts otherwise). */
function parseMeminfoLines(
  text: string,
  file: string,
  prefix?: RegExp,
  expectNode?: number,
): { values: Record<string, number>; node?: number } {
  const values: Record<string, number> = {};
  let node: number | undefined;
  for (let line of contentLines(text)) {
    if (prefix) {
      const m = prefix.exec(line);
      if (!m) throw new HostFileError(file, `line "${line}" does not start with "Node N"`);
      const n = parseCount(m[1], file, 'node number');
      if (node === undefined) node = n;
      if (n !== node || (expectNode !== undefined && n !== expectNode))
        throw new HostFileError(file, `line "${line}" is for node ${n}, expected ${expectNode ?? node}`);
      line = line.slice(m[0].length);
    }
    const m = /^([A-Za-z0-9_()]+):\s*(\S+)(?:\s+(\S+))?$/.exec(line);
    if (!m) throw new HostFileError(file, `line "${line}" is not "Key: value [kB]"`);
    const [, key, raw, unit] = m;
    if (unit !== undefined && unit !== 'kB') throw new HostFileError(file, `${key}: unit "${unit}" is not kB`);
    values[key!] = parseCount(raw, file, key!);
  }
  return node === undefined ? { values } : { values, node };
}

export interface NodeMeminfo {
  node: number;
  mem_total_kb: number;
  /** NodeObservation.mem_free_kb. */
  mem_free_kb: number;
  /** Every line, kB (or a count for HugePages_*). */
  values: Record<string, number>;
}

/** /sys/devices/system/node/node<N>/meminfo: "Node N MemFree: X kB" lines. */
export function parseNodeMeminfo(text: string, file = 'node meminfo', expectNode?: number): NodeMeminfo {
  const { values, node } = parseMeminfoLines(text, file, /^Node\s+(\d+)\s+/, expectNode);
  if (node === undefined) throw new HostFileError(file, 'empty');
  for (const k of ['MemTotal', 'MemFree']) if (values[k] === undefined) throw new HostFileError(file, `no ${k} line`);
  return { node, mem_total_kb: values.MemTotal!, mem_free_kb: values.MemFree!, values };
}

/** /proc/meminfo: "MemFree: X kB" lines → kB (HugePages_* as counts). */
export function parseMeminfo(text: string, file = '/proc/meminfo'): Record<string, number> {
  const { values } = parseMeminfoLines(text, file);
  for (const k of ['MemTotal', 'MemFree']) if (values[k] === undefined) throw new HostFileError(file, `no ${k} line`);
  return values;
}

/**
 * Every node<N>/meminfo under <sys>/devices/system/node. A node that vanished between listing and
 * reading (memory hot-unplug) is left out with a warning; a machine without NUMA has no node
 * directories, hence no entries (read /proc/meminfo instead).
 */
export function readNodeMeminfo(roots: HostRoots): { nodes: NodeMeminfo[]; warnings: string[] } {
  const dir = join(roots.sys, 'devices/system/node');
  const nodes: NodeMeminfo[] = [];
  const warnings: string[] = [];
  for (const n of numbered(dir, 'node')) {
    const file = join(dir, `node${n}`, 'meminfo');
    const got = readHostFile(file);
    if (!got.ok) {
      if (got.code === 'ENOENT') {
        warnings.push(`${file}: vanished while reading (node offlined); node ${n} left out`);
        continue;
      }
      throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
    }
    nodes.push(parseNodeMeminfo(got.text, file, n));
  }
  return { nodes, warnings };
}

// ---------------------------------------------------------------------------------------------
// /proc/PID

/** A per-process read: the value, or the process is gone (exited between listing and reading). */
export type PidRead<T> = { gone: false; value: T } | { gone: true; pid: number; file: string; reason: string };

function readPidFile<T>(
  roots: HostRoots,
  pid: number,
  name: string,
  parse: (text: string, file: string) => T,
): PidRead<T> {
  const file = join(roots.proc, String(pid), name);
  const got = readHostFile(file);
  if (!got.ok) {
    if (isGoneCode(got.code))
      return { gone: true, pid, file, reason: `process ${pid} is gone (${got.code} reading ${file})` };
    throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
  }
  return { gone: false, value: parse(got.text, file) };
}

/** The numeric entries of <proc>: the processes at listing time. */
export function listPids(roots: HostRoots): number[] {
  return numbered(roots.proc, '');
}

export interface PidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Ticks (USER_HZ) in user and kernel mode. */
  utime: number;
  stime: number;
  num_threads: number;
  /** Ticks after boot. */
  starttime: number;
  vsize_bytes: number;
  /** Resident pages (× page size for bytes; VmRSS of status gives kB directly). */
  rss_pages: number;
  /** CPU last run on (kernels since 2.2.8). */
  processor?: number;
}

/**
 * /proc/PID/stat. The command name sits in parentheses and may itself hold spaces and
 * parentheses, so fields are counted from the LAST ")": field 3 (state) is the first after it.
 */
export function parsePidStat(text: string, file = '/proc/PID/stat'): PidStat {
  const clean = text.replace(/\0/g, '').trim();
  const open = clean.indexOf('(');
  const close = clean.lastIndexOf(')');
  if (open < 0 || close < open) throw new HostFileError(file, 'no "(comm)" field');
  const pid = parseCount(clean.slice(0, open).trim(), file, 'pid');
  const rest = clean
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[k - 3] is field k (1-based, proc(5)).
  const field = (k: number, name: string) => parseCount(rest[k - 3], file, `field ${k} (${name})`);
  if (rest.length < 22) throw new HostFileError(file, `${rest.length + 2} fields, at least 24 expected`);
  const state = rest[0]!;
  if (!/^[A-Za-z]$/.test(state)) throw new HostFileError(file, `field 3 (state) "${state}" is not a state letter`);
  const st: PidStat = {
    pid,
    comm: clean.slice(open + 1, close),
    state,
    ppid: field(4, 'ppid'),
    utime: field(14, 'utime'),
    stime: field(15, 'stime'),
    num_threads: field(20, 'num_threads'),
    starttime: field(22, 'starttime'),
    vsize_bytes: field(23, 'vsize'),
    rss_pages: field(24, 'rss'),
  };
  if (rest.length >= 37) st.processor = field(39, 'processor');
  return st;
}

export function readPidStat(roots: HostRoots, pid: number): PidRead<PidStat> {
  return readPidFile(roots, pid, 'stat', parsePidStat);
}

export interface PidStatus {
  name?: string;
  /** The state letter ("S" of "S (sleeping)"). */
  state?: string;
  pid?: number;
  /** Absent for kernel threads and zombies. */
  vm_rss_kb?: number;
  threads?: number;
  cpus_allowed?: number[];
  mems_allowed?: number[];
  /** Every line, value as printed (trimmed). */
  fields: Record<string, string>;
}

export function parsePidStatus(text: string, file = '/proc/PID/status'): PidStatus {
  const fields: Record<string, string> = {};
  for (const line of contentLines(text)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HostFileError(file, `line "${line}" is not "Key: value"`);
    fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  const st: PidStatus = { fields };
  if (fields.Name !== undefined) st.name = fields.Name;
  if (fields.State) st.state = fields.State.split(/\s+/)[0];
  if (fields.Pid !== undefined) st.pid = parseCount(fields.Pid, file, 'Pid');
  if (fields.Threads !== undefined) st.threads = parseCount(fields.Threads, file, 'Threads');
  if (fields.VmRSS !== undefined) {
    const m = /^(\d+)\s*kB$/.exec(fields.VmRSS);
    if (!m) throw new HostFileError(file, `VmRSS "${fields.VmRSS}" is not "N kB"`);
    st.vm_rss_kb = parseCount(m[1], file, 'VmRSS');
  }
  for (const [key, prop] of [
    ['Cpus_allowed_list', 'cpus_allowed'],
    ['Mems_allowed_list', 'mems_allowed'],
  ] as const) {
    const v = fields[key];
    if (v === undefined) continue;
    try {
      st[prop] = parseCpuList(v);
    } catch (e) {
      if (e instanceof CpuListError) throw new HostFileError(file, `${key} "${v}": ${e.message}`);
      throw e;
    }
  }
  return st;
}

export function readPidStatus(roots: HostRoots, pid: number): PidRead<PidStatus> {
  return readPidFile(roots, pid, 'status', parsePidStatus);
}

export interface NumaMaps {
  /** Pages per node, summed over mappings (pages of each mapping's own size). */
  pages_by_node: Record<number, number>;
  /** kB per node: pages × the mapping's kernelpagesize_kB (4 kB when not printed). */
  kb_by_node: Record<number, number>;
  total_pages: number;
  total_kb: number;
  /** Lines (VMAs) read. */
  mappings: number;
}

/**
 * /proc/PID/numa_maps: one VMA per line, "addr policy [key=value | word]…" where N<node>=<pages>
 * counts the VMA's resident pages on that node. Other keys are ignored.
 */
export function parseNumaMaps(text: string, file = '/proc/PID/numa_maps'): NumaMaps {
  const pages: Record<number, number> = {};
  const kb: Record<number, number> = {};
  let mappings = 0;
  for (const line of contentLines(text)) {
    const tokens = line.split(/\s+/);
    if (!/^[0-9a-f]+$/.test(tokens[0] ?? ''))
      throw new HostFileError(file, `line "${line}" does not start with a hex address`);
    mappings++;
    let pageKb = 4;
    const perNode: Array<[number, number]> = [];
    for (const t of tokens.slice(1)) {
      const m = /^N(\d+)=(.*)$/.exec(t);
      if (m)
        perNode.push([
          parseCount(m[1], file, `${tokens[0]} node number`),
          parseCount(m[2], file, `${tokens[0]} N${m[1]}`),
        ]);
      else if (t.startsWith('kernelpagesize_kB='))
        pageKb = parseCount(t.slice(18), file, `${tokens[0]} kernelpagesize_kB`);
    }
    for (const [n, p] of perNode) {
      pages[n] = (pages[n] ?? 0) + p;
      kb[n] = (kb[n] ?? 0) + p * pageKb;
    }
  }
  const sum = (r: Record<number, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { pages_by_node: pages, kb_by_node: kb, total_pages: sum(pages), total_kb: sum(kb), mappings };
}

export function readNumaMaps(roots: HostRoots, pid: number): PidRead<NumaMaps> {
  return readPidFile(roots, pid, 'numa_maps', parseNumaMaps);
}

/**
 * Local-access estimate: the share of the process's resident memory on `node` (the node it runs
 * on), weighted by kB so one 2 MiB huge page outweighs one 4 kB page; equals pages-on-node ÷ all
 * pages when every page is 4 kB. Undefined when nothing is resident.
 */
export function localShare(maps: NumaMaps, node: number): number | undefined {
  if (maps.total_kb === 0) return undefined;
  return (maps.kb_by_node[node] ?? 0) / maps.total_kb;
}

/** Where a process runs (stat's processor → node) and the share of its memory there. */
export function readProcessLocality(
  roots: HostRoots,
  pid: number,
  cpuToNode: ReadonlyMap<number, number>,
): PidRead<{ cpu?: number; node?: number; local_share?: number; maps: NumaMaps }> {
  const st = readPidStat(roots, pid);
  if (st.gone) return st;
  const maps = readNumaMaps(roots, pid);
  if (maps.gone) return maps;
  const cpu = st.value.processor;
  const node = cpu === undefined ? undefined : cpuToNode.get(cpu);
  const value: { cpu?: number; node?: number; local_share?: number; maps: NumaMaps } = { maps: maps.value };
  if (cpu !== undefined) value.cpu = cpu;
  if (node !== undefined) {
    value.node = node;
    const share = localShare(maps.value, node);
    if (share !== undefined) value.local_share = share;
  }
  return { gone: false, value };
}
