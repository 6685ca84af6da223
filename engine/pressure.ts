/**
 * Pressure: turns PSI readings into the numbers decisions use — a current value per resource,
 * its level against the thresholds, a bounded history, trend, velocity and a short-horizon
 * prediction — system-wide and per NUMA node.
 *
 * The current value prefers the kernel's freshest signal, the growth of `total` (µs stalled) over
 * the last tick, because avg10 lags a step change by tens of seconds (it reaches 80 % of a step
 * only after ~16 s); acting on it is how fgo gets ahead of oomd. With no previous sample, or with
 * `signal: "avg10"`, it uses `some` avg10.
 */
import type { Config } from './config.ts';
import {
  RESOURCES,
  type Level,
  type Observation,
  type PressureView,
  type PsiLine,
  type PsiSet,
  type Resource,
  type ResourcePressure,
  type Trend,
} from './types.ts';
import { History } from './pressure-history.ts';
import { roundTo } from './round.ts';

export type Thresholds = Config['pressure']['thresholds'][Resource];

export function levelOf(value: number, t: Thresholds): Level {
  if (value >= t.critical) return 'critical';
  if (value >= t.high) return 'high';
  if (value >= t.medium) return 'medium';
  if (value >= t.low) return 'low';
  return 'none';
}

// biome-ignore lint/complexity/useMathMinMax: Math.max(0, -0) is +0; this keeps −0 and NaN as they come, so no output changes.
const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

function sameReading(a: PsiSet, b: PsiSet | undefined): boolean {
  if (a === b) return true;
  if (!b) return false;
  return sameLine(a.cpu.some, b.cpu.some) && sameLine(a.memory.some, b.memory.some) && sameLine(a.io.some, b.io.some);
}

function sameLine(x: PsiLine, y: PsiLine): boolean {
  return x.avg10 === y.avg10 && x.avg60 === y.avg60 && x.avg300 === y.avg300 && x.total_us === y.total_us;
}

/** The kernel recomputes its averages every 2 s; an unchanged reading older than that is a real, steady sample. */
const KERNEL_PERIOD_MS = 2_000;

/** Pressure of one scope (the system or one node): three resources, each with its own history. */
class ScopeTracker {
  private readonly hist: Record<Resource, History>;
  private last: PsiSet | undefined;
  /** When the last distinct reading arrived: the base of the Δtotal/Δt rate. */
  private lastReading_ms: number | undefined;
  lastSample_ms = -Infinity;
  readonly current: Record<Resource, number> = { cpu: 0, memory: 0, io: 0 };
  private cached: PressureView | undefined;

  constructor(private readonly cfg: Config['pressure']) {
    // One store for the three: they are always pushed together, at the same instants (update).
    const data = new Float64Array(cfg.history_size * 4);
    this.hist = {
      cpu: new History(cfg.history_size, { data, stride: 4, column: 1 }),
      memory: new History(cfg.history_size, { data, stride: 4, column: 2 }),
      io: new History(cfg.history_size, { data, stride: 4, column: 3 }),
    };
  }

  /**
   * Take a reading. Shells sample PSI less often than they ask for decisions, so the same reading
   * often comes back with a later time: it is not a new measurement (its Δtotal would read as zero
   * pressure), and is only recorded again, unchanged, once a kernel averaging period has passed.
   */
  update(t_ms: number, psi: PsiSet): void {
    if (sameReading(psi, this.last)) return this.repeat(t_ms);
    const dt_us = this.lastReading_ms === undefined ? 0 : (t_ms - this.lastReading_ms) * 1000;
    for (const r of RESOURCES) {
      const some = psi[r].some;
      const prev = this.last?.[r].some.total_us;
      let v = some.avg10;
      if (
        this.cfg.signal === 'total' &&
        some.total_us !== undefined &&
        prev !== undefined &&
        dt_us > 0 &&
        some.total_us >= prev
      ) {
        v = (some.total_us - prev) / dt_us;
      }
      v = clamp01(v);
      this.current[r] = v;
      this.hist[r].push(t_ms / 1000, v);
    }
    this.last = psi;
    this.lastReading_ms = t_ms;
    this.lastSample_ms = t_ms;
    this.cached = undefined;
  }

  /**
   * Record, late, the repeats of its unchanged reading logged at `log[logPos..]` (PressureMonitor
   * keeps node scopes behind while the node list is the same object): each is a sample exactly as
   * update() would have taken it then, the reading and so `current` being unchanged meanwhile.
   */
  catchUp(log: readonly number[]): void {
    for (let i = this.logPos; i < log.length; i++) this.repeat(log[i] as number);
    this.logPos = log.length;
  }

  /** The unchanged reading at `t_ms`: recorded again once a kernel averaging period has passed. */
  private repeat(t_ms: number): void {
    if (t_ms - this.lastSample_ms < KERNEL_PERIOD_MS) return;
    const t_s = t_ms / 1000,
      h = this.hist,
      c = this.current;
    h.cpu.push(t_s, c.cpu);
    h.memory.push(t_s, c.memory);
    h.io.push(t_s, c.io);
    this.lastSample_ms = t_ms;
    this.cached = undefined;
  }

  /** How far into the monitor's repeat log this scope has been brought (catchUp). */
  logPos = 0;
  /** In the monitor's lazy group (its node is in the node list being repeated), at observation `stamp`. */
  lazy = false;
  stamp = -1;

  view(): PressureView {
    if (this.cached) return this.cached;
    this.cached = { cpu: this.one('cpu'), memory: this.one('memory'), io: this.one('io') };
    return this.cached;
  }

  private one(r: Resource): ResourcePressure {
    const c = this.cfg;
    const value = this.current[r];
    const velocity = this.hist[r].slope(c.trend_window);
    const trend: Trend =
      velocity > c.trend_epsilon_per_s ? 'rising' : velocity < -c.trend_epsilon_per_s ? 'falling' : 'steady';
    return {
      value: roundTo(value, 6),
      level: levelOf(value, c.thresholds[r]),
      trend,
      velocity_per_s: roundTo(velocity, 6),
      predicted: roundTo(clamp01(value + velocity * c.horizon_s), 6),
    };
  }

  history(r: Resource): History {
    return this.hist[r];
  }
}

/** Rounding keeps decision JSON short and stable across platforms' last-bit float differences. */

/** Repeats of one node list are logged, and node scopes brought up to date, at most this many at a time. */
const REPEAT_LOG_MAX = 256;

/**
 * Tracks pressure system-wide and per node from successive observations.
 *
 * Node histories are kept lazily: nothing in a decision reads them (placement reads only the current
 * values, which an unchanged reading leaves as they are), yet recording a steady sample in all of
 * them made the decision that takes it (one in ~100: the p99) ~2 µs slower at 64 nodes, measured in
 * place on a shared machine. While shells pass the same node list (the same array, unchanged, as
 * the digest and the ledger assume), the monitor logs the instants
 * instead and each node scope records them when it is read, the node list changes, or the log fills.
 */
export class PressureMonitor {
  private readonly system: ScopeTracker;
  /** Per-node trackers by node id: an array, since placement asks for every node's values twice per decision. */
  private readonly nodes: Array<ScopeTracker | undefined> = [];
  private lastT_ms = -Infinity;
  private lastPsi: PsiSet | undefined;
  private lastNodes: Observation['nodes'];
  private lastSample_ms = -Infinity;
  /** The scopes of `lastNodes`' nodes with PSI, when its ids are distinct: those a repeat may leave behind. */
  private readonly group: ScopeTracker[] = [];
  private groupOk = false;
  /** Instants of repeats of `lastNodes` that group scopes may not have recorded yet (see catchUp). */
  private readonly log: number[] = [];
  /** The distinct lastSample_ms of the group's scopes, as they would be had they recorded the log. */
  private groupSamples: number[] = [];
  private stamp = 0;

  constructor(private readonly cfg: Config['pressure']) {
    this.system = new ScopeTracker(cfg);
  }

  /** Take an observation; a repeat of the last instant is ignored, time going backwards is a bug. */
  observe(obs: Observation): void {
    if (obs.t_ms < this.lastT_ms) throw new Error(`observation time went backwards: ${obs.t_ms} < ${this.lastT_ms}`);
    if (obs.t_ms === this.lastT_ms) return;
    this.lastT_ms = obs.t_ms;
    // The very sample taken last time (same objects), within a kernel period: every scope would
    // decline it one by one (see ScopeTracker.update); at 64 nodes, decline it here at once.
    if (obs.psi === this.lastPsi && obs.nodes === this.lastNodes && obs.t_ms - this.lastSample_ms < KERNEL_PERIOD_MS)
      return;
    this.lastPsi = obs.psi;
    this.system.update(obs.t_ms, obs.psi);
    let oldest = this.system.lastSample_ms;
    if (obs.nodes !== undefined && obs.nodes === this.lastNodes && this.groupOk)
      oldest = Math.min(oldest, this.repeat(obs.t_ms));
    else oldest = Math.min(oldest, this.updateNodes(obs.t_ms, obs.nodes));
    this.lastNodes = obs.nodes;
    // The shortcut above holds only while every scope would still decline the same sample.
    this.lastSample_ms = oldest;
  }

  /** The node list changed: bring the group up to date, take every node's reading, form the new group. */
  private updateNodes(t_ms: number, nodes: Observation['nodes']): number {
    this.flush();
    for (const tr of this.group) tr.lazy = false;
    this.group.length = 0;
    const stamp = ++this.stamp;
    let oldest = Infinity,
      distinct = true;
    for (const n of nodes ?? []) {
      if (!n.psi) continue;
      let tr = this.nodes[n.id];
      if (!tr) {
        tr = new ScopeTracker(this.cfg);
        this.nodes[n.id] = tr;
      }
      tr.update(t_ms, n.psi);
      oldest = Math.min(oldest, tr.lastSample_ms);
      if (tr.stamp === stamp) distinct = false;
      tr.stamp = stamp;
      this.group.push(tr);
    }
    // A node listed twice takes two readings per observation: not a repeat. Keep such lists eager.
    this.groupOk = distinct;
    if (!distinct) this.group.length = 0;
    this.groupSamples = distinct ? [...new Set(this.group.map(lastSampleOf))] : [];
    for (const tr of this.group) {
      tr.lazy = true;
      tr.logPos = 0;
    }
    return oldest;
  }

  /**
   * The same node list again: every node's reading is unchanged, so each scope would record it again
   * iff a kernel period has passed since its last sample. Log the instant for them (when any would
   * record it) and follow their last-sample times, grouped by value, for the shortcut.
   */
  private repeat(t_ms: number): number {
    let logged = false,
      oldest = Infinity;
    const s = this.groupSamples;
    for (let i = 0; i < s.length; i++) {
      if (t_ms - (s[i] as number) >= KERNEL_PERIOD_MS) {
        s[i] = t_ms;
        logged = true;
      }
    }
    if (logged) {
      this.groupSamples = s.length > 1 ? [...new Set(s)] : s;
      this.log.push(t_ms);
      if (this.log.length >= REPEAT_LOG_MAX) this.flush();
    }
    for (const v of this.groupSamples) oldest = Math.min(oldest, v);
    return oldest;
  }

  /** Bring every scope of the group up to date and empty the log. */
  private flush(): void {
    if (this.log.length === 0) return;
    for (const tr of this.group) {
      tr.catchUp(this.log);
      tr.logPos = 0;
    }
    this.log.length = 0;
  }

  /** A node's scope, up to date. */
  private node(id: number): ScopeTracker | undefined {
    const tr = this.nodes[id];
    if (tr?.lazy) tr.catchUp(this.log);
    return tr;
  }

  systemView(): PressureView {
    return this.system.view();
  }

  /** Current values system-wide, as one record that the next observation updates in place. */
  systemValues(): Readonly<Record<Resource, number>> {
    return this.system.current;
  }

  /** Current value of one resource system-wide. */
  value(r: Resource): number {
    return this.system.current[r];
  }

  /**
   * Current node values, or undefined when the shells never reported per-node pressure for it. A
   * scope behind on its repeats has them right: a repeat changes the history, not the values.
   */
  nodeValues(id: number): Readonly<Record<Resource, number>> | undefined {
    return this.nodes[id]?.current;
  }

  nodeView(id: number): PressureView | undefined {
    return this.node(id)?.view();
  }

  history(r: Resource, node?: number): History | undefined {
    return node === undefined ? this.system.history(r) : this.node(node)?.history(r);
  }
}

const lastSampleOf = (tr: ScopeTracker) => tr.lastSample_ms;
