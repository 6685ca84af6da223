/**
 * What the twin's agent sees of its host. A PSI scope per node and one for the whole host are kept
 * in step with the execution model, event by event; once per simulated second they are read into
 * an observation (PSI, node load and memory, online CPUs; fragments when a health check is due),
 * which every decision until the next sample sees with its own time — as the live agent samples.
 *
 * Kept apart from the shell, which carries out requests and commands and tells the sampler when a
 * node changed; everything here is about turning the host's state into observations.
 */
import type { FragmentObservation, Observation, PsiSet } from '../engine/index.ts';
import type { Host, NodeState } from './host.ts';
import { PSI_STATES, PsiScope, type PsiReading, type PsiState } from './psi.ts';
import { roundTo } from '../engine/round.ts';

type PsiLine = PsiSet['cpu']['some'];

/** What a health check sees of a fragment. */
interface Watched {
  id: string;
  mem_kb: number;
  leaked_kb: number;
  hung_since_us: number | undefined;
}

/** A recorded PSI source: overlay adds it as background stall, replace shows it to the policy. */
export interface PsiTraceSource {
  mode: 'overlay' | 'replace';
  at: (t_ms: number) => PsiSet | undefined;
}

/** A recorded PSI trace as the sampler reads it: played from the run's start, looping if the run is longer. */
export function psiReplay(
  psi: { mode: PsiTraceSource['mode']; rows: ReadonlyArray<{ t_ms: number; set: PsiSet }> } | undefined,
): PsiTraceSource | undefined {
  if (!psi?.rows.length) return undefined;
  const rows = psi.rows;
  const t0_ms = (rows[0] as { t_ms: number }).t_ms;
  const span_ms = Math.max(1, (rows[rows.length - 1] as { t_ms: number }).t_ms - t0_ms);
  const at = (t_ms: number) => {
    const t = t0_ms + (t_ms % span_ms);
    let lo = 0,
      hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((rows[mid] as { t_ms: number }).t_ms <= t) lo = mid;
      else hi = mid - 1;
    }
    return (rows[lo] as { set: PsiSet }).set;
  };
  return { mode: psi.mode, at };
}

const noStall = (): Record<PsiState, number> => ({
  cpu_some: 0,
  cpu_full: 0,
  mem_some: 0,
  mem_full: 0,
  io_some: 0,
  io_full: 0,
});

const noneStalled = (f: Readonly<Record<PsiState, number>>) =>
  f.cpu_some === 0 && f.cpu_full === 0 && f.mem_some === 0 && f.mem_full === 0 && f.io_some === 0 && f.io_full === 0;

/** A state's system-wide fraction: its weighted sum over the total weight, within 0–1 (0 with no weight). */
function share(sum: number, w: number): number {
  return w > 1e-12 ? Math.min(1, Math.max(0, sum / w)) : 0;
}

/** One PSI line as the policy sees it: the scope's reading as a fraction, plus a recording's overlay. */
function psiLine(v: PsiReading, o: PsiLine | undefined): PsiLine {
  return {
    avg10: Math.min(1, v.avg10 / 100 + (o?.avg10 ?? 0)),
    avg60: Math.min(1, v.avg60 / 100 + (o?.avg60 ?? 0)),
    avg300: Math.min(1, v.avg300 / 100 + (o?.avg300 ?? 0)),
    total_us: v.total_us + (o?.total_us ?? 0),
  };
}

// psiLine is a module function, not a closure here: this runs per node every simulated second,
// and tsx's keepNames renames every named closure as it is made.
function psiSet(s: PsiScope, overlay?: PsiSet): PsiSet {
  const r = s.read();
  return {
    cpu: { some: psiLine(r.cpu_some, overlay?.cpu.some), full: psiLine(r.cpu_full, overlay?.cpu.full) },
    memory: { some: psiLine(r.mem_some, overlay?.memory.some), full: psiLine(r.mem_full, overlay?.memory.full) },
    io: { some: psiLine(r.io_some, overlay?.io.some), full: psiLine(r.io_full, overlay?.io.full) },
  };
}

export class Sampler {
  private readonly nodePsi: PsiScope[];
  private readonly sysPsi: PsiScope;
  private readonly sysFractions = noStall();
  private readonly sums = noStall();
  private sumW = 0;
  private readonly parts: Array<{ fractions: Record<PsiState, number>; weight: number }>;
  /** Whether each node's scope, and the system's, was last set to no stall at all (as they start). */
  private readonly nodeZero: boolean[];
  private sysZero = true;
  private readonly lastBusy_us: number[];
  private last_us = 0;
  private online: number[];
  private nextHealth_ms = 0;
  /** The latest once-a-second sample. */
  private latest: Observation;

  constructor(
    private readonly host: Host,
    private readonly frags: ReadonlyMap<string, Watched>,
    private readonly health_interval_ms: number,
    private readonly psiTrace?: PsiTraceSource,
  ) {
    this.nodePsi = host.nodes.map(() => new PsiScope(0));
    this.parts = host.nodes.map(() => ({ fractions: noStall(), weight: 0 }));
    this.nodeZero = host.nodes.map(() => true);
    this.sysPsi = new PsiScope(0);
    this.lastBusy_us = host.nodes.map(() => 0);
    this.online = host.topo.json.online_cpus.slice();
    this.latest = this.observe(0);
  }

  /** When the latest sample was taken (µs). */
  get lastTick_us(): number {
    return this.last_us;
  }

  /** The current sample with this instant's time: what a decision between samples sees. */
  at(now_us: number): Observation {
    // Spelled out rather than spread: this runs for every decision, and a literal of known shape is
    // several times cheaper. A sample's fragments (a health check's) are left out, as before.
    const l = this.latest;
    return { t_ms: Math.floor(now_us / 1000), psi: l.psi, nodes: l.nodes, online_cpus: l.online_cpus };
  }

  /** Once per agent tick: bring the PSI scopes up to now and take a fresh sample. */
  sample(now_us: number): Observation {
    this.resumSystemPsi(now_us);
    for (const n of this.host.nodes) (this.nodePsi[n.index] as PsiScope).advance(now_us);
    this.sysPsi.advance(now_us);
    this.latest = this.observe(now_us);
    return this.latest;
  }

  /** A node's CPUs went on- or offline: the online list the samples report. */
  setOnline(cpus: readonly number[], on: boolean): void {
    const set = new Set(this.online);
    for (const c of cpus) on ? set.add(c) : set.delete(c);
    this.online = [...set].sort((a, b) => a - b);
  }

  /** PSI, node load and memory, online CPUs (fragments when a health check is due). */
  private observe(now_us: number): Observation {
    const t_ms = Math.floor(now_us / 1000);
    const dt = now_us - this.last_us;
    const recorded = this.psiTrace?.at(t_ms);
    const nodes = this.host.nodes.map((n, i) => {
      n.cpu.advance(now_us); // busy time only accrues on advance(): bring it up to now, or steady load reads as idle
      const busy = n.cpu.busy_unit_us;
      const util =
        dt > 0 && n.cpu.capacity > 0
          ? Math.min(1, (busy - (this.lastBusy_us[i] as number)) / (dt * n.cpu.capacity))
          : 0;
      this.lastBusy_us[i] = busy;
      return {
        id: n.id,
        cpu_util: roundTo(util, 4),
        mem_free_kb: Math.max(0, Math.round(n.mem_cap_kb - n.mem_used_kb)),
        psi: psiSet(this.nodePsi[i] as PsiScope, this.psiTrace?.mode === 'overlay' ? recorded : undefined),
      };
    });
    this.last_us = now_us;
    const psi =
      this.psiTrace?.mode === 'replace' && recorded
        ? recorded
        : psiSet(this.sysPsi, this.psiTrace?.mode === 'overlay' ? recorded : undefined);
    const obs: Observation = { t_ms, psi, nodes, online_cpus: this.online };
    if (t_ms >= this.nextHealth_ms) {
      this.nextHealth_ms = t_ms + this.health_interval_ms;
      obs.fragments = [...this.frags.values()].map(
        (f): FragmentObservation => ({
          id: f.id,
          heartbeat_ms: Math.floor((f.hung_since_us ?? now_us) / 1000),
          rss_kb: Math.round(f.mem_kb + f.leaked_kb),
        }),
      );
    }
    return obs;
  }

  /** A node's stall changed (the shell has just re-derived it): its scope and the system's follow. */
  nodeChanged(n: NodeState, now: number): void {
    const fr = this.host.nodeStall(n) as unknown as Record<PsiState, number>;
    const zero = noneStalled(fr);
    // Zero stall after zero stall adds nothing to a scope's integral, and when advance() runs does
    // not matter (psi.ts): the set() is skipped, which on an unstalled host is nearly every event.
    if (!(zero && this.nodeZero[n.index])) (this.nodePsi[n.index] as PsiScope).set(now, fr);
    this.nodeZero[n.index] = zero;
    this.updateSystemPsi(now, n.index, fr, this.host.nodeWeight(n));
  }

  /**
   * System-wide stall: the nodes' fractions weighted by their non-idle time, as psi.c combines
   * CPUs. Kept as running sums updated by the one node that changed (O(1) per event, not O(nodes));
   * `resumSystemPsi` recomputes them exactly once per agent tick so rounding never accumulates.
   */
  private updateSystemPsi(now: number, i: number, fr: Record<PsiState, number>, w: number): void {
    const old = this.parts[i] as { fractions: Record<PsiState, number>; weight: number };
    // Written out state by state (this runs on every event; a loop over the state names is a
    // keyed lookup each time), in the same order of operations as one per state.
    const s = this.sums,
      o = old.fractions,
      ow = old.weight;
    s.cpu_some += fr.cpu_some * w - o.cpu_some * ow;
    s.cpu_full += fr.cpu_full * w - o.cpu_full * ow;
    s.mem_some += fr.mem_some * w - o.mem_some * ow;
    s.mem_full += fr.mem_full * w - o.mem_full * ow;
    s.io_some += fr.io_some * w - o.io_some * ow;
    s.io_full += fr.io_full * w - o.io_full * ow;
    this.sumW += w - ow;
    old.fractions = fr;
    old.weight = w;
    this.setSystem(now);
  }

  private resumSystemPsi(now: number): void {
    let w = 0;
    for (const k of PSI_STATES) this.sums[k] = 0;
    for (const p of this.parts) {
      for (const k of PSI_STATES) this.sums[k] += p.fractions[k] * p.weight;
      w += p.weight;
    }
    this.sumW = w;
    this.setSystem(now);
  }

  private setSystem(now: number): void {
    const f = this.sysFractions,
      s = this.sums,
      w = this.sumW;
    f.cpu_some = share(s.cpu_some, w);
    f.cpu_full = share(s.cpu_full, w);
    f.mem_some = share(s.mem_some, w);
    f.mem_full = share(s.mem_full, w);
    f.io_some = share(s.io_some, w);
    f.io_full = share(s.io_full, w);
    const zero = noneStalled(f);
    if (!(zero && this.sysZero)) this.sysPsi.set(now, f); // as in nodeChanged
    this.sysZero = zero;
  }
}
