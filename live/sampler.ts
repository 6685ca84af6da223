/**
 * The live counterpart of sim/sampler.ts: reads the host once per agent tick into an engine
 * `Observation` — system PSI, per-node CPU busy share and free memory, the online CPUs.
 *
 * Per `sample(t_ms)` each file is read at most once:
 * - <proc>/pressure/{cpu,memory,io}: system PSI as fractions (live/psi.ts's parser). The first
 *   sample decides availability through `readPressure`; later samples read the three files
 *   directly (irq is not needed by the engine and is not read).
 * - <proc>/stat: per-node `cpu_util` from this and the previous sample (`cpuUtil` over the
 *   topology's CPU → node map), so the first sample carries no `cpu_util`; `procs_running` feeds
 *   the degraded mode below.
 * - <sys>/devices/system/node/node<N>/meminfo: per-node `mem_free_kb` (MemFree). A machine without
 *   node directories (no NUMA in the kernel) has one node: its MemFree comes from <proc>/meminfo,
 *   which is then the only extra file read.
 * - <sys>/devices/system/cpu/online: `online_cpus`, restricted to the topology's CPUs. Absent or
 *   unparsable: the field is left out (the engine then takes every CPU as online), with a warning.
 *
 * Degraded mode (no PSI: kernel before 4.20, CONFIG_PSI=n, psi=0 on the command line — or a
 * pressure file vanishing later): reported ONCE, as the first entry `warnings` gains and through
 * `psiAvailable === false`; every sample still carries a complete `psi`, estimated from load:
 *   cpu some  = clamp((procs_running − online CPUs) / online CPUs, 0, 1) — the share of runnable
 *               tasks beyond the CPUs, a stand-in for "some task waited for a CPU";
 *               avg10/avg60/avg300 are that instant value smoothed exponentially over 10/60/300 s
 *               of `t_ms` (as the kernel smooths PSI and loadavg), the first sample taking it as is.
 *               procs_running counts the reading process itself, so an idle host reads 0.
 *   memory, io = 0 (nothing in /proc/stat measures them; procs_blocked mixes io and other waits).
 * No `full` line and no `total_us` are given in degraded mode, so the engine's pressure monitor
 * uses `some` avg10 (engine/pressure.ts) rather than a stall-time rate. Availability is decided on
 * the first sample and not probed again.
 *
 * Time comes in as an argument (Date.now() or a monotonic ms); nothing here reads a clock.
 * Warnings (the degraded mode, unreadable optional files, CPU hotplug seen by cpuUtil) are each
 * recorded once in `warnings`, in the order met.
 */
import { join } from 'node:path';
import { buildTopology, type Topology, type TopologyJson } from '../engine/topology.ts';
import type { NodeObservation, Observation, PsiLine, PsiSet } from '../engine/types.ts';
import { RESOURCES } from '../engine/types.ts';
import { readList } from '../formats/host/files.ts';
import { cpuNodeMap, cpuUtil, readProcStat, type ProcStat } from './proc-stat.ts';
import { parseMeminfo, readNodeMeminfo } from './meminfo.ts';
import { HostFileError, readHostFile } from './procread.ts';
import { parsePsiReading, readPressure } from './psi.ts';
import type { HostRoots } from '../formats/host/roots.ts';
import { roundTo } from '../engine/round.ts';

/** Smoothing windows of the degraded-mode averages, seconds (PSI's avg10/avg60/avg300). */
const WINDOWS_S = { avg10: 10, avg60: 60, avg300: 300 } as const;

const zeroLine = (): PsiLine => ({ avg10: 0, avg60: 0, avg300: 0 });
// Comparisons, not Math.min/max, which would turn -0 into 0.
function clamp01(v: number): number {
  if (v < 0) return 0;
  if (v > 1) return 1;
  return v;
}

/** The instant cpu "some" estimate of the degraded mode: runnable tasks beyond the CPUs, per CPU. */
export function loadCpuSome(procsRunning: number, cpus: number): number {
  if (!(cpus > 0)) return 0;
  return clamp01((procsRunning - cpus) / cpus);
}

export class HostSampler {
  readonly topology: TopologyJson;
  /** Everything surprising met so far, one sentence each, each recorded once. */
  readonly warnings: string[] = [];
  private readonly seen = new Set<string>();
  private readonly cpuToNode: Map<number, number>;
  private readonly topoCpus: Set<number>;
  /** undefined until the first sample has looked. */
  private psiOk: boolean | undefined;
  private prevStat: ProcStat | undefined;
  private prevT_ms: number | undefined;
  /** Degraded-mode smoothed cpu some. */
  private loadLine: PsiLine | undefined;

  constructor(
    readonly roots: HostRoots,
    topology: TopologyJson | Topology,
  ) {
    // A built Topology has `json`; a plain document is validated by building it.
    this.topology = 'json' in topology ? topology.json : buildTopology(topology).json;
    this.cpuToNode = cpuNodeMap(this.topology);
    this.topoCpus = new Set(this.cpuToNode.keys());
  }

  /** false once the host turned out to have no PSI (degraded mode); undefined before the first sample. */
  get psiAvailable(): boolean | undefined {
    return this.psiOk;
  }

  /** Whether the observations' psi is estimated from load rather than read from the kernel. */
  get degraded(): boolean {
    return this.psiOk === false;
  }

  private warn(message: string): void {
    if (this.seen.has(message)) return;
    this.seen.add(message);
    this.warnings.push(message);
  }

  /** Read the host once and return what it looks like at `t_ms`. */
  sample(t_ms: number): Observation {
    if (!Number.isFinite(t_ms) || t_ms < 0)
      throw new RangeError(`t_ms must be a finite non-negative number of milliseconds, got ${t_ms}`);
    const stat = readProcStat(this.roots);
    const online = this.readOnline();
    const psi = this.readPsi(t_ms, stat, online);
    const nodes = this.readNodes(stat);
    this.prevStat = stat;
    this.prevT_ms = t_ms;
    const obs: Observation = { t_ms, psi, nodes };
    if (online !== undefined) obs.online_cpus = online;
    return obs;
  }

  private readOnline(): number[] | undefined {
    const file = join(this.roots.sys, 'devices/system/cpu/online');
    const local: string[] = [];
    const list = readList(file, local);
    for (const w of local) this.warn(w);
    if (list === undefined) {
      if (!local.length)
        this.warn(`${file}: missing; online_cpus left out of observations (every CPU taken as online)`);
      return undefined;
    }
    return list.filter((c) => this.topoCpus.has(c));
  }

  private readPsi(t_ms: number, stat: ProcStat, online: number[] | undefined): PsiSet {
    if (this.psiOk === undefined) {
      const r = readPressure(this.roots);
      if (r.available) {
        this.psiOk = true;
        return r.psi;
      }
      this.psiOk = false;
      this.warn(
        `PSI unavailable, degraded mode: ${r.reason}. psi is estimated from load: cpu some from /proc/stat procs_running beyond the online CPUs, memory and io 0`,
      );
    } else if (this.psiOk) {
      const psi = this.readPressureFiles();
      if (psi) return psi;
    }
    return this.loadPsi(t_ms, stat, online);
  }

  /** The three pressure files, each read once; undefined (and degraded from now on) if one vanished. */
  private readPressureFiles(): PsiSet | undefined {
    const dir = join(this.roots.proc, 'pressure');
    const psi = {} as PsiSet;
    for (const r of RESOURCES) {
      const file = join(dir, r);
      const got = readHostFile(file);
      if (!got.ok) {
        if (got.code === 'ENOENT' || got.code === 'EOPNOTSUPP' || got.code === 'ENOTSUP') {
          this.psiOk = false;
          this.warn(
            `PSI unavailable, degraded mode: ${file} can no longer be read (${got.code}). psi is estimated from load: cpu some from /proc/stat procs_running beyond the online CPUs, memory and io 0`,
          );
          return undefined;
        }
        throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
      }
      psi[r] = parsePsiReading(got.text, file);
    }
    return psi;
  }

  private loadPsi(t_ms: number, stat: ProcStat, online: number[] | undefined): PsiSet {
    const cpus = online?.length || stat.cpus.length || this.topology.online_cpus.length;
    if (stat.procs_running === undefined)
      this.warn(`${join(this.roots.proc, 'stat')}: no procs_running line; degraded cpu pressure taken as 0`);
    const x = loadCpuSome(stat.procs_running ?? 0, cpus);
    const prev = this.loadLine;
    const dt_s = prev && this.prevT_ms !== undefined ? Math.max(0, t_ms - this.prevT_ms) / 1000 : 0;
    const line = zeroLine();
    for (const k of ['avg10', 'avg60', 'avg300'] as const) {
      const keep = prev ? Math.exp(-dt_s / WINDOWS_S[k]) : 0;
      line[k] = clamp01(Number(((prev ? prev[k] : 0) * keep + x * (1 - keep)).toPrecision(12)));
    }
    this.loadLine = line;
    return { cpu: { some: { ...line } }, memory: { some: zeroLine() }, io: { some: zeroLine() } };
  }

  private readNodes(stat: ProcStat): NodeObservation[] {
    const util = new Map<number, number>();
    if (this.prevStat) {
      const u = cpuUtil(this.prevStat, stat, this.cpuToNode);
      for (const w of u.warnings) this.warn(w);
      for (const n of u.nodes) util.set(n.node, clamp01(roundTo(n.busy, 4)));
    }
    const free = new Map<number, number>();
    const mem = readNodeMeminfo(this.roots);
    for (const w of mem.warnings) this.warn(w);
    for (const n of mem.nodes) free.set(n.node, n.mem_free_kb);
    if (mem.nodes.length === 0 && this.topology.nodes.length === 1) {
      // No node directories: the whole machine is node 0 (as readTopology models it).
      const file = join(this.roots.proc, 'meminfo');
      const got = readHostFile(file);
      if (got.ok)
        free.set((this.topology.nodes[0] as { id: number }).id, parseMeminfo(got.text, file).MemFree as number);
      else this.warn(`${file}: cannot read (${got.code}); mem_free_kb left out`);
    }
    return this.topology.nodes.map((n) => {
      const obs: NodeObservation = { id: n.id };
      const u = util.get(n.id);
      if (u !== undefined) obs.cpu_util = u;
      const f = free.get(n.id);
      if (f !== undefined) obs.mem_free_kb = f;
      return obs;
    });
  }
}
