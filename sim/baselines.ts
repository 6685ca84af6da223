/**
 * Baseline policies, run by the same twin on the same arrivals as the engine, for comparison.
 * They are what hosts commonly run today: a node picked at random, in turn, least allocated
 * (Kubernetes' LeastAllocated), most allocated (bin packing), or numad-like (most free CPU ×
 * memory, with re-placement every 15 s); all keep fragments warm for a fixed keep-alive after use
 * (10 minutes unless the run sets another), as public serverless platforms do. Three stronger ones
 * are what a careful operator could run: locality-first (the node holding the request's data, as a
 * topology-aware scheduler would), the hybrid histogram keep-alive with pre-warming of Shahrad et
 * al. (sim/keepalive.ts), and both together. None looks at PSI, defers under pressure, sheds, or
 * heals beyond restarting what crashed (a supervisor). They share the engine's bookkeeping (node
 * ledger, pools), so only the policy differs. docs/baselines.md says what each stands for.
 */
import type { Config } from '../engine/config.ts';
import type { Command, Decision, NodeScore, Observation, Outcome, PressureView, Request } from '../engine/index.ts';
import type { Topology, TopologyNode } from '../engine/topology.ts';
import { memoryNeed_kb, misfit, NodeLedger, sharedCpusFor, type Demand } from '../engine/placement.ts';
import { PoolSet, type Fragment, type Pool } from '../engine/pools.ts';
import { FixedKeepAlive, HybridKeepAlive, type KeepAlive, type Prewarm } from './keepalive.ts';
import type { Policy } from './shell.ts';
import { makeRng, type Rng } from './random.ts';

export const BASELINES = [
  'random',
  'round-robin',
  'least-loaded',
  'most-allocated',
  'numad',
  'locality-first',
  'hybrid-keepalive',
  'locality-hybrid',
] as const;
export type BaselineName = (typeof BASELINES)[number];
/** The engine with the fragment graph's terms off (engine config `graph.enabled: false`): what the graph buys. */
export const GRAPH_BLIND = 'graph-blind';
export type PolicyName = 'engine' | typeof GRAPH_BLIND | BaselineName;

/** The node rule among the nodes that fit, when no warm fragment decides. */
type NodeRule = 'random' | 'round-robin' | 'least-loaded' | 'most-allocated' | 'numad';

/**
 * Each baseline as a node rule, whether it goes to the request's memory home first, and its
 * keep-alive: fixed (RunInputs.keepAlive_ms) or the hybrid histogram.
 */
const SPECS: Record<BaselineName, { rule: NodeRule; locality: boolean; keepAlive: 'fixed' | 'hybrid' }> = {
  random: { rule: 'random', locality: false, keepAlive: 'fixed' },
  'round-robin': { rule: 'round-robin', locality: false, keepAlive: 'fixed' },
  'least-loaded': { rule: 'least-loaded', locality: false, keepAlive: 'fixed' },
  'most-allocated': { rule: 'most-allocated', locality: false, keepAlive: 'fixed' },
  numad: { rule: 'numad', locality: false, keepAlive: 'fixed' },
  'locality-first': { rule: 'least-loaded', locality: true, keepAlive: 'fixed' },
  'hybrid-keepalive': { rule: 'least-loaded', locality: false, keepAlive: 'hybrid' },
  'locality-hybrid': { rule: 'least-loaded', locality: true, keepAlive: 'hybrid' },
};

/** The baselines whose keep-alive is the fixed one a run sets (what `fgo tradeoff` sweeps). */
export const FIXED_KEEP_ALIVE_BASELINES = BASELINES.filter((b) => SPECS[b].keepAlive === 'fixed');

/** The fixed keep-alive of an idle warm fragment, as public serverless platforms use (RunInputs.keepAlive_ms sets another). */
export const DEFAULT_KEEP_ALIVE_MS = 10 * 60 * 1000;
const RETRY_MS = 1000;
const NUMAD_INTERVAL_MS = 15_000;

const calm = { value: 0, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0 } as const;
const NO_PRESSURE: PressureView = { cpu: { ...calm }, memory: { ...calm }, io: { ...calm } };

/**
 * The node of `fits` with the highest score, the first of equals. A module function: a closure
 * made in choose() on every decision would be renamed by tsx's keepNames each time.
 */
function best(fits: number[], score: (id: number) => number): number {
  return fits.reduce((b, id) => (score(id) > score(b) ? id : b));
}

class Baseline implements Policy {
  private readonly ledger: NodeLedger;
  private readonly pools: PoolSet;
  private readonly rng: Rng;
  private readonly spec: (typeof SPECS)[BaselineName];
  private readonly keepAlive: KeepAlive;
  /** Node ids in topology order. */
  private readonly ids: number[];
  private rr = 0;
  private seq = 0;
  /**
   * Requests waiting for room, first come first served. Like a scheduler's pending queue they are
   * retried when room frees (a completion), plus one probe per tick in case nothing completes —
   * not re-decided every second, which at a few thousand waiting requests would be most of a run.
   */
  private pending: Request[] = [];
  private pendingHead = 0;
  /** Requests let out of the queue to try again; everyone else queues behind those waiting. */
  private readonly released = new Set<string>();
  /** When each request not yet completed first came (its arrival): the hybrid keep-alive's idle times start there. */
  private readonly arrived_ms = new Map<string, number>();
  private nextNumad_ms = 0;

  constructor(
    readonly name: BaselineName,
    private readonly cfg: Config,
    private readonly topo: Topology,
    seed: string,
    keepAlive_ms: number,
  ) {
    this.ledger = new NodeLedger(topo, cfg.placement.cpu_overcommit, cfg.placement.min_shared_cpus);
    this.pools = new PoolSet(cfg, this.ledger);
    this.rng = makeRng(seed, `baseline:${name}`);
    this.ids = topo.nodes.map((n) => n.id);
    this.spec = SPECS[name];
    this.keepAlive = this.spec.keepAlive === 'hybrid' ? new HybridKeepAlive() : new FixedKeepAlive(keepAlive_ms);
  }

  private free(id: number): { cpu: number; mem: number } {
    const node = this.topo.byId.get(id);
    return {
      cpu: 1 - this.ledger.cpuLoad(id),
      mem: node && node.memory_kb > 0 ? this.ledger.memFree_kb(id) / node.memory_kb : 0,
    };
  }

  /** The baseline's node rule among the nodes that fit. */
  private choose(fits: number[]): number | undefined {
    if (fits.length === 0) return undefined;
    switch (this.spec.rule) {
      case 'random':
        return fits[Math.floor(this.rng() * fits.length)];
      case 'round-robin': {
        const all = this.ids;
        for (let k = 0; k < all.length; k++) {
          const id = all[(this.rr + k) % all.length] as number;
          if (fits.includes(id)) {
            this.rr = (this.rr + k + 1) % all.length;
            return id;
          }
        }
        return undefined;
      }
      case 'least-loaded':
        return best(fits, (id) => (this.free(id).cpu + this.free(id).mem) / 2);
      case 'most-allocated':
        return best(fits, (id) => -(this.free(id).cpu + this.free(id).mem) / 2);
      case 'numad':
        return best(fits, (id) => this.free(id).cpu * this.free(id).mem);
    }
  }

  /** Does the demand fit on the node (engine/placement.ts misfit), as a warm start or as a cold one? */
  private fitsOn(id: number, demand: Demand, pool: Pool, warm: boolean): boolean {
    return (
      misfit(this.topo.byId.get(id) as TopologyNode, demand, memoryNeed_kb(demand, pool.cfg, warm), this.ledger) ===
      undefined
    );
  }

  private decision(
    req: Request,
    obs: Observation,
    d: Partial<Decision> & Pick<Decision, 'action' | 'reason'>,
  ): Decision {
    return {
      seq: this.seq++,
      t_ms: obs.t_ms,
      request_id: req.id,
      profile: req.profile,
      confidence: 1,
      pressure: NO_PRESSURE,
      scores: [] as NodeScore[],
      inputs_digest: '',
      commands: [],
      ...d,
    };
  }

  schedule(req: Request, obs: Observation): Decision {
    this.ledger.observe(obs.online_cpus, obs.nodes);
    if (!this.arrived_ms.has(req.id)) this.arrived_ms.set(req.id, obs.t_ms);
    const pool = this.pools.pool(req.profile);
    const demand: Demand = { profile: req.profile, cpus: req.cpus, memory_kb: req.memory_kb, exclusive_cpus: 0 };
    // First come, first served: while others wait, a newcomer waits behind them — except a call
    // from a running fragment (the fragment graph), which is part of work already admitted: behind
    // newer requests that wait for the room its caller holds, it would never be served.
    if (!this.released.delete(req.id) && req.caller === undefined && this.pendingHead < this.pending.length) {
      this.pending.push(req);
      return this.decision(req, obs, {
        action: 'defer',
        reason: `${this.name}: queued behind ${this.pending.length - this.pendingHead - 1} waiting`,
        retry_after_ms: RETRY_MS,
      });
    }
    let warm: Fragment | undefined;
    let node: number | undefined;
    if (this.spec.locality && req.memory_home !== undefined) {
      // The node holding the data when it fits, else the least-loaded that fits; a warm fragment
      // only on that node.
      const fits = this.ids.filter((id) => this.fitsOn(id, demand, pool, pool.popWarm(id) !== undefined));
      node = fits.includes(req.memory_home) ? req.memory_home : this.choose(fits);
      warm = node === undefined ? undefined : pool.popWarm(node);
    } else {
      // Any idle warm fragment of the profile, wherever it is: the most recently used that fits.
      for (const id of this.ids) {
        const w = pool.popWarm(id);
        if (w && (!warm || w.last_used_ms > warm.last_used_ms) && this.fitsOn(id, demand, pool, true)) warm = w;
      }
      if (!warm) node = this.choose(this.ids.filter((id) => this.fitsOn(id, demand, pool, false)));
    }
    let f: Fragment;
    const commands: Command[] = [];
    if (warm) {
      f = warm;
      this.pools.transition(f, 'active');
    } else {
      if (
        node === undefined ||
        pool.size >= pool.cfg.pool.max ||
        this.pools.liveCount >= this.cfg.limits.max_fragments
      ) {
        this.pending.push(req);
        return this.decision(req, obs, { action: 'defer', reason: `${this.name}: no room`, retry_after_ms: RETRY_MS });
      }
      f = this.pools.create(req.profile, node, sharedCpusFor(node, pool.cfg, this.ledger), obs.t_ms);
      commands.push({
        type: 'start',
        fragment: f.id,
        profile: req.profile,
        node,
        cpus: f.cpus,
        memory_kb: pool.cfg.memory_kb,
        reason: `${this.name}: cold start`,
      });
      this.keepAlive.coldStart(req.profile);
    }
    f.request = req;
    f.last_used_ms = obs.t_ms;
    this.pools.setReservation(f, req.cpus, Math.max(pool.cfg.memory_kb, req.memory_kb));
    return this.decision(req, obs, {
      action: 'place',
      start: warm ? 'warm' : 'cold',
      node: f.node,
      cpus: f.cpus,
      fragment: f.id,
      reason: this.name,
      commands,
    });
  }

  started(id: string, obs: Observation): Command[] {
    const f = this.pools.get(id);
    if (f?.state !== 'starting') return [];
    const idle = f.request === undefined;
    this.pools.transition(f, idle ? 'warm' : 'active');
    if (idle) this.keepAlive.warmed(f, obs.t_ms);
    return [];
  }

  /** A fragment waiting on its calls uses no CPU: its CPU reservation is returned until it ends. */
  calling(id: string): Command[] {
    const f = this.pools.get(id);
    if (f?.state !== 'active') return [];
    this.pools.setReservation(f, 0, f.res_mem_kb);
    return this.release('room freed: a caller waits on its calls');
  }

  complete(id: string, _o: Outcome, obs: Observation): Command[] {
    const f = this.pools.get(id);
    if (f?.state !== 'active') return [];
    const req = f.request as Request;
    const arrival_ms = this.arrived_ms.get(req.id) ?? obs.t_ms;
    this.arrived_ms.delete(req.id);
    f.request = undefined;
    f.last_used_ms = obs.t_ms;
    this.pools.transition(f, 'warm');
    this.pools.setReservation(f, 0, this.pools.pool(f.profile).cfg.memory_kb);
    const out: Command[] = [];
    if (!this.keepAlive.idle(f, arrival_ms, obs.t_ms)) {
      this.pools.transition(f, 'stopped');
      out.push({ type: 'stop', fragment: f.id, reason: `${this.name}: unloaded until its pre-warm` });
    }
    out.push(...this.release('room freed'));
    return out;
  }

  private release(reason: string): Command[] {
    if (this.pendingHead >= this.pending.length) return [];
    const request = this.pending[this.pendingHead++] as Request;
    this.released.add(request.id);
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    return [{ type: 'retry', request, reason }];
  }

  /** A supervisor: restart what exited; the request it held goes back to its client. */
  failed(id: string, reason: string): Command[] {
    const f = this.pools.get(id);
    if (!f) return [];
    const out: Command[] = f.request ? [{ type: 'retry', request: f.request, reason: `${id} exited` }] : [];
    f.request = undefined;
    if (f.state !== 'failed') this.pools.transition(f, 'failed');
    this.pools.transition(f, 'starting');
    out.push({
      type: 'restart',
      fragment: id,
      reason: `supervisor: ${reason}`,
      timeout_ms: 30_000,
      profile: f.profile,
      node: f.node,
      cpus: f.cpus,
    });
    return out;
  }

  tick(obs: Observation): Command[] {
    this.ledger.observe(obs.online_cpus, obs.nodes);
    const out: Command[] = [];
    out.push(...this.release('periodic retry'));
    for (const f of [...this.pools.fragments()]) {
      if (f.state === 'warm' && this.keepAlive.expired(f, obs.t_ms)) {
        this.pools.transition(f, 'stopped');
        out.push({ type: 'stop', fragment: f.id, reason: 'keep-alive expired' });
      }
    }
    for (const p of this.keepAlive.prewarmsDue(obs.t_ms)) out.push(...this.prewarm(p, obs.t_ms));
    if (this.name === 'numad' && obs.t_ms >= this.nextNumad_ms) {
      this.nextNumad_ms = obs.t_ms + NUMAD_INTERVAL_MS;
      out.push(...this.rebalance());
    }
    return out;
  }

  /**
   * Start a warm fragment of the profile on the node of the one it replaces if it fits, else on the
   * least-loaded node that fits. With no room it is dropped: the next request cold-starts, as it
   * would have with no pre-warm.
   */
  private prewarm({ profile, node }: Prewarm, t_ms: number): Command[] {
    const pool = this.pools.pool(profile);
    const demand: Demand = { profile, cpus: 0, memory_kb: pool.cfg.memory_kb, exclusive_cpus: 0 };
    const fits = this.ids.filter((id) => this.fitsOn(id, demand, pool, false));
    const at = fits.includes(node) ? node : this.choose(fits);
    if (at === undefined || pool.size >= pool.cfg.pool.max || this.pools.liveCount >= this.cfg.limits.max_fragments)
      return [];
    const f = this.pools.create(profile, at, sharedCpusFor(at, pool.cfg, this.ledger), t_ms);
    return [
      {
        type: 'start',
        fragment: f.id,
        profile,
        node: at,
        cpus: f.cpus,
        memory_kb: pool.cfg.memory_kb,
        reason: `${this.name}: pre-warm`,
      },
    ];
  }

  /** numad's periodic re-placement: move one busy fragment from the most to the least loaded node when they differ by over 20 %. */
  private rebalance(): Command[] {
    const ids = this.topo.nodes.filter((n) => this.ledger.usableCpus(n.id).length > 0).map((n) => n.id);
    if (ids.length < 2) return [];
    const load = (id: number) => this.ledger.cpuLoad(id);
    const hi = ids.reduce((a, b) => (load(b) > load(a) ? b : a));
    const lo = ids.reduce((a, b) => (load(b) < load(a) ? b : a));
    if (load(hi) - load(lo) <= 0.2) return [];
    const f = [...this.pools.fragments()].find((x) => x.node === hi && x.state === 'active');
    if (!f) return [];
    const cpus = sharedCpusFor(lo, this.pools.pool(f.profile).cfg, this.ledger);
    this.pools.moveNode(f, lo, cpus);
    return [{ type: 'migrate', fragment: f.id, from: hi, to: lo, cpus, reason: 'numad: rebalance' }];
  }
}

export function makeBaseline(
  name: BaselineName,
  cfg: Config,
  topo: Topology,
  seed: string,
  keepAlive_ms = DEFAULT_KEEP_ALIVE_MS,
): Policy {
  if (!(keepAlive_ms >= 0)) throw new RangeError(`keep-alive must be ≥ 0 ms, got ${keepAlive_ms}`);
  return new Baseline(name, cfg, topo, seed, keepAlive_ms);
}

/** Every policy the twin can run: the engine, then the baselines. */
export const POLICIES: readonly PolicyName[] = ['engine', ...BASELINES, GRAPH_BLIND];

/** Does any profile of the scenario call another? (graph-blind is then a baseline worth running.) */
export const hasCalls = (profiles: Readonly<Record<string, { calls: readonly unknown[] }>>): boolean =>
  Object.values(profiles).some((p) => p.calls.length > 0);

/** The policies a comparison runs on a scenario by default: all, graph-blind only where there are calls. */
export const policiesFor = (profiles: Readonly<Record<string, { calls: readonly unknown[] }>>): PolicyName[] =>
  POLICIES.filter((p) => p !== GRAPH_BLIND || hasCalls(profiles));
