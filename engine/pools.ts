/**
 * Pools: one per profile, holding its fragments through their life (starting → warm ⇄ active →
 * draining → stopped, or failed), with acquire/release, size bounds and the pool's running
 * figures (utilization, latency, throughput, error rate). Every change of a fragment's resources
 * goes through `setReservation`, which keeps the node ledger's totals exact.
 */
import type { Config, Profile } from './config.ts';
import type { NodeLedger } from './placement.ts';
import type { TopologyNode } from './topology.ts';
import type { Outcome, Request } from './types.ts';

export type FragmentState = 'starting' | 'warm' | 'active' | 'draining' | 'stopped' | 'failed';

const TRANSITIONS: Record<FragmentState, readonly FragmentState[]> = {
  starting: ['warm', 'active', 'failed', 'stopped'],
  warm: ['active', 'draining', 'failed', 'stopped'],
  active: ['warm', 'draining', 'failed', 'stopped'],
  // draining → warm/active is the rollback of a drain that timed out.
  draining: ['stopped', 'failed', 'warm', 'active'],
  stopped: [],
  // a failed fragment is restarted in place or given up.
  failed: ['starting', 'stopped'],
};

export const canTransition = (from: FragmentState, to: FragmentState) => TRANSITIONS[from].includes(to);

export interface Fragment {
  readonly id: string;
  readonly profile: string;
  /** A running process the shell adopted (adopt mode): placed and moved, never started, stopped or healed. */
  readonly adopted: boolean;
  node: number;
  state: FragmentState;
  /** CPUs the fragment may run on (its affinity); exclusive ones are also in `exclusive_cpus`. */
  cpus: number[];
  exclusive_cpus: number[];
  /** Request it serves now (active, or starting for it); kept whole so a lost one can be retried. */
  request: Request | undefined;
  res_cpu: number;
  res_mem_kb: number;
  started_ms: number;
  last_used_ms: number;
  requests: number;
  /** Last `window` outcomes, for the health signals. */
  recent_ok: boolean[];
  recent_latency_ms: number[];
  /**
   * Failures and summed latency over that window (`windowTotals`), kept by `Pool.recordOutcome`
   * so the periodic health check need not walk the window of every idle fragment again. Absent
   * (a fragment built by hand), health.ts sums the window itself.
   */
  recent_totals?: WindowTotals;
  /**
   * For the current request, when its execution was due to begin on a warm fragment and the
   * remote-memory factor it ran under; undefined for a cold start (its start time is not execution).
   */
  exec?: { from_ms: number; remote: number };
}

export interface WindowTotals {
  fails: number;
  total_ms: number;
}

/** Failures and summed latency over a fragment's window, summed in window order (the order fixes the float sum). */
export function windowTotals(f: Pick<Fragment, 'recent_ok' | 'recent_latency_ms'>): WindowTotals {
  let fails = 0,
    total_ms = 0;
  for (let i = 0; i < f.recent_ok.length; i++) {
    if (!f.recent_ok[i]) fails++;
    total_ms += f.recent_latency_ms[i] as number;
  }
  return { fails, total_ms };
}

/** Does the fragment count toward its pool's size? Draining ones are on their way out. */
export const isLive = (f: Fragment) => f.state === 'starting' || f.state === 'warm' || f.state === 'active';

export class Pool {
  readonly fragments = new Map<string, Fragment>();
  /**
   * Warm fragments by node id, most recently used last (acquire pops it: its caches are hottest).
   * An array, not a Map: placement asks warmOn of every node twice per decision.
   */
  private readonly warm: Array<Fragment[] | undefined> = [];
  /**
   * Live fragments (starting, warm, active) by node id, kept as states change: placement and
   * scale-down ask it per fragment they start or stop, and counting the pool each time would cost
   * O(pool) per fragment.
   */
  private readonly live: number[] = [];
  /** Bumped when a node's warm set turns empty or non-empty: nearestWarm's cache key. */
  private warmNodesVersion = 0;
  private nearestVersion = -1;
  private nearest: Float64Array | undefined;
  readonly count: Record<FragmentState, number> = {
    starting: 0,
    warm: 0,
    active: 0,
    draining: 0,
    stopped: 0,
    failed: 0,
  };
  private completions = 0;
  private lastCompletions = 0;
  private lastRate_ms: number | undefined;
  /**
   * Execution time of a request on a warm, local fragment (ms): an EWMA (α = 0.1) of what warm
   * completions took from their start, divided by the remote-memory factor they ran under.
   * Undefined until one has completed.
   */
  service_ms: number | undefined;
  /** EWMAs (α = 0.1) of latency and of the error indicator over completions. */
  avg_latency_ms = 0;
  error_rate = 0;
  throughput_rps = 0;
  target: number;
  /** The size the last scaling cycle chose (the configured target until one has run): what status shows as the target. */
  wanted: number | undefined;

  constructor(
    readonly profile: string,
    readonly cfg: Profile,
  ) {
    this.target = cfg.pool.target;
  }

  /** starting + warm + active: what min/target/max bound. */
  get size(): number {
    return this.count.starting + this.count.warm + this.count.active;
  }

  get utilization(): number {
    const busy = this.count.active,
      idle = this.count.warm;
    return busy + idle === 0 ? 0 : busy / (busy + idle);
  }

  /** Live fragments of the pool on `node`. */
  liveOn(node: number): number {
    return this.live[node] ?? 0;
  }

  private addLive(node: number, n: number): void {
    this.live[node] = (this.live[node] ?? 0) + n;
  }

  /** A new fragment, in state `starting`, joins the pool. */
  add(f: Fragment): void {
    this.fragments.set(f.id, f);
    this.count.starting++;
    this.addLive(f.node, 1);
  }

  /** Move a fragment's place in the live counts to node `to` (the caller then sets its node). */
  relocate(f: Fragment, to: number): void {
    if (!isLive(f)) return;
    this.addLive(f.node, -1);
    this.addLive(to, 1);
  }

  warmOn(node: number): number {
    return this.warm[node]?.length ?? 0;
  }

  /**
   * For each node (by topology index), the SLIT distance to the nearest node holding a warm
   * fragment of the pool, over the node's local distance (1 where it holds one itself); NaN
   * everywhere when none is warm. What a caller on that node pays to reach the pool
   * (engine/communication.ts). Recomputed only when some node's warm set turned empty or not.
   */
  nearestWarm(nodes: readonly TopologyNode[]): Float64Array {
    if (this.nearest && this.nearestVersion === this.warmNodesVersion) return this.nearest;
    const out = (this.nearest ??= new Float64Array(nodes.length));
    const warm = nodes.filter((m) => this.warmOn(m.id) > 0);
    for (const n of nodes) {
      let best = NaN;
      for (const m of warm) {
        const r = (n.distances[m.index] as number) / (n.distances[n.index] as number);
        if (!(r >= best)) best = r;
      }
      out[n.index] = best;
    }
    this.nearestVersion = this.warmNodesVersion;
    return out;
  }

  /** Warm fragments, least recently used first (the order scale-down stops them in). */
  warmLru(): Fragment[] {
    const all: Fragment[] = [];
    for (const list of this.warm) if (list) all.push(...list);
    return all.sort((a, b) => a.last_used_ms - b.last_used_ms || (a.id < b.id ? -1 : 1));
  }

  /** Take the most recently used warm fragment on `node` (that `skip` does not rule out), if any. */
  popWarm(node: number, skip?: (f: Fragment) => boolean): Fragment | undefined {
    const list = this.warm[node];
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) if (!skip?.(list[i] as Fragment)) return list[i];
    return undefined;
  }

  recordOutcome(f: Fragment, outcome: Outcome, window: number, t_ms: number): void {
    if (f.exec && outcome.ok) {
      const local_ms = Math.max(0, t_ms - f.exec.from_ms) / f.exec.remote;
      this.service_ms = this.service_ms === undefined ? local_ms : 0.9 * this.service_ms + 0.1 * local_ms;
    }
    f.exec = undefined;
    this.completions++;
    this.avg_latency_ms =
      this.completions === 1 ? outcome.latency_ms : 0.9 * this.avg_latency_ms + 0.1 * outcome.latency_ms;
    this.error_rate = 0.9 * this.error_rate + 0.1 * (outcome.ok ? 0 : 1);
    f.recent_ok.push(outcome.ok);
    f.recent_latency_ms.push(outcome.latency_ms);
    if (f.recent_ok.length > window) {
      f.recent_ok.shift();
      f.recent_latency_ms.shift();
    }
    f.recent_totals = windowTotals(f);
  }

  /** Completions per second since the previous call (called once per scaling cycle). */
  sampleThroughput(t_ms: number): number {
    if (this.lastRate_ms !== undefined && t_ms > this.lastRate_ms) {
      this.throughput_rps = ((this.completions - this.lastCompletions) * 1000) / (t_ms - this.lastRate_ms);
    }
    this.lastRate_ms = t_ms;
    this.lastCompletions = this.completions;
    return this.throughput_rps;
  }

  /** Bookkeeping for a state change; the caller has checked the transition is legal. */
  moveState(f: Fragment, to: FragmentState): void {
    if (f.state === 'warm') {
      const list = this.warm[f.node];
      const i = list ? list.indexOf(f) : -1;
      if (!list || i < 0) throw new Error(`pool ${this.profile}: warm fragment ${f.id} missing from node ${f.node}`);
      list.splice(i, 1);
      if (list.length === 0) this.warmNodesVersion++;
    }
    this.count[f.state]--;
    this.count[to]++;
    const wasLive = isLive(f);
    f.state = to;
    if (wasLive !== isLive(f)) this.addLive(f.node, wasLive ? -1 : 1);
    if (to === 'warm') {
      let list = this.warm[f.node];
      if (!list) this.warm[f.node] = list = [];
      if (list.length === 0) this.warmNodesVersion++;
      list.push(f);
    }
  }
}

/**
 * All pools and fragments. Fragment ids are `<profile>-<n>` from one counter, so they are the
 * same in every run with the same inputs.
 */
export class PoolSet {
  readonly pools = new Map<string, Pool>();
  private readonly all = new Map<string, Fragment>();
  private nextId = 0;

  constructor(
    private readonly cfg: Config,
    private readonly ledger: NodeLedger,
  ) {
    for (const [name, p] of Object.entries(cfg.profiles)) this.pools.set(name, new Pool(name, p));
  }

  pool(profile: string): Pool {
    let p = this.pools.get(profile);
    if (!p) {
      p = new Pool(profile, this.cfg.profiles[profile] ?? this.cfg.default_profile);
      this.pools.set(profile, p);
    }
    return p;
  }

  get(id: string): Fragment | undefined {
    return this.all.get(id);
  }

  /** Live and draining fragments (not stopped); their number is bounded by limits.max_fragments. */
  get liveCount(): number {
    return this.all.size;
  }

  /**
   * A new fragment in state `starting`. `adoptedId` names an adopted process's fragment: the shell
   * chooses it (e.g. `pid1234`, no `-<n>` suffix, so it never collides with a pool fragment's id)
   * because it must survive an agent restart.
   */
  create(profile: string, node: number, cpus: number[], t_ms: number, adoptedId?: string): Fragment {
    if (this.all.size >= this.cfg.limits.max_fragments)
      throw new Error(`fragment limit ${this.cfg.limits.max_fragments} reached`);
    if (adoptedId !== undefined && this.all.has(adoptedId)) throw new Error(`fragment ${adoptedId} exists already`);
    const pool = this.pool(profile);
    const f: Fragment = {
      id: adoptedId ?? `${profile}-${this.nextId++}`,
      profile,
      adopted: adoptedId !== undefined,
      node,
      state: 'starting',
      cpus,
      exclusive_cpus: [],
      request: undefined,
      res_cpu: 0,
      res_mem_kb: 0,
      started_ms: t_ms,
      last_used_ms: t_ms,
      requests: 0,
      recent_ok: [],
      recent_latency_ms: [],
      recent_totals: { fails: 0, total_ms: 0 },
    };
    pool.add(f);
    this.all.set(f.id, f);
    this.ledger.addFragment(node);
    this.setReservation(f, 0, pool.cfg.memory_kb);
    return f;
  }

  /** Move a fragment to a new state; illegal transitions are engine bugs and throw. */
  transition(f: Fragment, to: FragmentState): void {
    if (!canTransition(f.state, to)) throw new Error(`fragment ${f.id}: illegal transition ${f.state} → ${to}`);
    const pool = this.pool(f.profile);
    if (f.state === 'active') this.ledger.addActive(f.node, -1);
    if (to === 'active') this.ledger.addActive(f.node, 1);
    pool.moveState(f, to);
    if (to === 'stopped' || to === 'failed') {
      this.setReservation(f, 0, 0);
      if (f.exclusive_cpus.length) this.ledger.releaseExclusive(f.node, f.exclusive_cpus);
      f.exclusive_cpus = [];
    }
    if (to === 'stopped') {
      pool.fragments.delete(f.id);
      this.all.delete(f.id);
      this.ledger.removeFragment(f.node);
    }
    if (to === 'starting') this.setReservation(f, 0, pool.cfg.memory_kb);
  }

  setReservation(f: Fragment, cpu: number, mem_kb: number): void {
    this.ledger.reserve(f.node, cpu - f.res_cpu, mem_kb - f.res_mem_kb);
    f.res_cpu = cpu;
    f.res_mem_kb = mem_kb;
  }

  /** Move a fragment's bookkeeping to another node (failover, re-placement). */
  moveNode(f: Fragment, to: number, cpus: number[]): void {
    const { res_cpu, res_mem_kb } = f;
    const pool = this.pool(f.profile);
    const wasWarm = f.state === 'warm';
    if (wasWarm) pool.moveState(f, 'starting'); // leave the warm list of the old node
    this.setReservation(f, 0, 0);
    this.ledger.removeFragment(f.node);
    if (f.state === 'active') this.ledger.addActive(f.node, -1);
    pool.relocate(f, to);
    f.node = to;
    f.cpus = cpus;
    this.ledger.addFragment(to);
    if (f.state === 'active') this.ledger.addActive(to, 1);
    this.setReservation(f, res_cpu, res_mem_kb);
    if (wasWarm) pool.moveState(f, 'warm');
  }

  /** Every fragment not stopped, oldest first. The map's own iterator: a generator around it costs several times more per fragment, and the health check and the high-priority recount walk them all. */
  fragments(): IterableIterator<Fragment> {
    return this.all.values();
  }
}
