/**
 * The pool lifecycle: the engine's state of record (pools, node ledger, pressure, clock, random
 * streams) and the operations on it that more than one part needs — start warm fragments where
 * their footprint fits best, stop one, re-pin shared CPU lists when a node's shared set changes.
 * Healing, scaling and adoption receive this unit rather than the orchestrator, so none of them
 * can reach back into scheduling.
 */
import type { Config, Profile } from './config.ts';
import type { FragmentGraph } from './graph.ts';
import {
  NodeLedger,
  NONE_WARM,
  scoreNodes,
  selectNode,
  sharedCpusFor,
  type Demand,
  type WarmCounts,
} from './placement.ts';
import { isLive, PoolSet, type Fragment, type Pool } from './pools.ts';
import { PressureMonitor } from './pressure.ts';
import { makeStreams, type Streams } from './rng.ts';
import type { Topology } from './topology.ts';
import type { Command, NodeScore, Observation } from './types.ts';

export class PoolLifecycle {
  readonly pressure: PressureMonitor;
  readonly ledger: NodeLedger;
  readonly pools: PoolSet;
  /** Seeded random streams (jitter, shedding, retries); shared by every placement. */
  readonly streams: Streams;
  private now_ms = -Infinity;

  constructor(
    readonly cfg: Config,
    readonly topo: Topology,
    seed: string,
  ) {
    this.streams = makeStreams(seed);
    this.pressure = new PressureMonitor(cfg.pressure);
    this.ledger = new NodeLedger(topo, cfg.placement.cpu_overcommit, cfg.placement.min_shared_cpus);
    this.pools = new PoolSet(cfg, this.ledger);
  }

  /** The time of the last observation. */
  get now(): number {
    return this.now_ms;
  }

  /**
   * Take in an observation: pressure history, online CPUs, node measurements, the clock. True when
   * the online CPUs changed, so shared fragments need their CPU lists redone.
   */
  observe(obs: Observation): boolean {
    if (!Number.isFinite(obs.t_ms)) throw new Error(`observation t_ms must be a finite number, got ${obs.t_ms}`);
    this.pressure.observe(obs);
    const cpusChanged = this.ledger.observe(obs.online_cpus, obs.nodes);
    this.now_ms = obs.t_ms;
    return cpusChanged;
  }

  /** Every node scored for a demand, counting `warm` fragments there (NONE_WARM: a cold start only). */
  score(d: Demand, profile: Profile, warm: WarmCounts): NodeScore[] {
    return scoreNodes(d, { cfg: this.cfg.placement, profile, ledger: this.ledger, warm, pressure: this.pressure });
  }

  /**
   * Start `n` warm fragments of a pool, each on the best node for its footprint — first where the
   * pool has fewer than `want` says the node should hold (the data on it), most missing first.
   */
  startWarm(pool: Pool, n: number, reason: string, avoid?: number, want?: ReadonlyMap<number, number>): Command[] {
    const out: Command[] = [];
    for (
      let i = 0;
      i < n && pool.size < pool.cfg.pool.max && this.pools.liveCount < this.cfg.limits.max_fragments;
      i++
    ) {
      const node = this.placeFootprint(pool, avoid, want);
      if (node === undefined) break;
      const f = this.pools.create(pool.profile, node, sharedCpusFor(node, pool.cfg, this.ledger), this.now_ms);
      out.push({
        type: 'start',
        fragment: f.id,
        profile: pool.profile,
        node,
        cpus: f.cpus,
        memory_kb: f.res_mem_kb,
        reason,
      });
    }
    return out;
  }

  /**
   * Node for a new idle fragment of the pool (its memory, no CPU demand): among the nodes that fit,
   * those holding the fewest of the pool's live fragments, then the best score. Spreading a pool
   * across nodes keeps a warm fragment near every memory home, so a request need not choose
   * between a warm start far from its data and a cold start beside it. A pool with preferred
   * nodes spreads over those when they fit.
   */
  placeFootprint(pool: Pool, avoid?: number, want?: ReadonlyMap<number, number>): number | undefined {
    const allowed = avoid === undefined ? undefined : this.topo.nodes.map((n) => n.id).filter((id) => id !== avoid);
    const demand: Demand = {
      profile: pool.profile,
      cpus: 0,
      memory_kb: pool.cfg.memory_kb,
      exclusive_cpus: 0,
      allowed_nodes: allowed,
    };
    const scores = this.score(demand, pool.cfg, NONE_WARM);
    const preferred = pool.cfg.preferred_nodes;
    let pick = scores.filter((s) => s.eligible);
    const missing = (node: number) => (want?.get(node) ?? 0) - pool.liveOn(node);
    const most = Math.max(0, ...pick.map((s) => missing(s.node)));
    if (most > 0) pick = pick.filter((s) => missing(s.node) === most);
    else if (preferred.length && pick.some((s) => preferred.includes(s.node)))
      pick = pick.filter((s) => preferred.includes(s.node));
    const fewest = Math.min(...pick.map((s) => pool.liveOn(s.node)));
    return selectNode(
      pick.filter((s) => pool.liveOn(s.node) === fewest),
      this.cfg.placement,
      this.streams,
    )?.node;
  }

  /**
   * Start order (the fragment graph): a caller cold-starting on `node` gets one warm fragment of
   * each sync dependency that has none warm or starting, started now beside it, so its first calls
   * do not each wait for a cold start in turn.
   */
  warmDependencies(graph: FragmentGraph, profile: string, node: number): Command[] {
    const out: Command[] = [];
    for (const d of graph.syncDependencies(profile)) {
      const pool = this.pools.pool(d);
      if (pool.count.warm + pool.count.starting === 0)
        out.push(
          ...this.startWarm(
            pool,
            1,
            `start order: ${d} warmed before ${profile}'s first call`,
            undefined,
            new Map([[node, 1]]),
          ),
        );
    }
    return out;
  }

  stop(f: Fragment, reason: string): Command {
    this.pools.transition(f, 'stopped');
    return { type: 'stop', fragment: f.id, reason };
  }

  /** Re-pin every shared fragment whose CPU list no longer matches its node's shared CPUs. */
  repinAll(reason: string): Command[] {
    const out: Command[] = [];
    for (const f of this.pools.fragments()) {
      if (f.exclusive_cpus.length || !isLive(f)) continue;
      const cpus = sharedCpusFor(f.node, this.pools.pool(f.profile).cfg, this.ledger);
      // A node with no CPU left is the health check's to fail over, not something to pin to.
      if (cpus.length === 0 || (cpus.length === f.cpus.length && cpus.every((c, i) => c === f.cpus[i]))) continue;
      f.cpus = cpus;
      out.push({ type: 'pin', fragment: f.id, node: f.node, cpus, reason });
    }
    return out;
  }

  /** Re-pin the shared fragments of a node after its shared CPU set changed. */
  repinShared(node: number, except: string | undefined, reason: string): Command[] {
    const out: Command[] = [];
    for (const f of this.pools.fragments()) {
      if (f.node !== node || f.id === except || f.exclusive_cpus.length || !isLive(f)) continue;
      f.cpus = sharedCpusFor(node, this.pools.pool(f.profile).cfg, this.ledger);
      out.push({ type: 'pin', fragment: f.id, node, cpus: f.cpus, reason });
    }
    return out;
  }

  /**
   * The part of the measured pressure that holding requests back would relieve. CPU: the stall
   * fgo's own reserved demand makes by itself on the CPUs it can use (the kernel's balanced rule,
   * (demand − CPUs) ÷ CPUs); a neighbour's stall is no reason to wait, it is a reason to place
   * elsewhere. Memory: all of it while some node is full (its free memory under 2 % of capacity),
   * since admissions fill nodes and completions empty them; none while every node has room (the
   * stall is then someone else's). Without per-node memory measurements, all of it.
   */
  relievable(p: Readonly<Record<'cpu' | 'memory', number>>): Record<'cpu' | 'memory', number> {
    let demand = 0,
      cpus = 0,
      full = false,
      measured = false;
    for (const n of this.topo.nodes) {
      const usable = this.ledger.usableCpus(n.id).length;
      cpus += usable;
      demand += this.ledger.reservedCpu(n.id) + this.ledger.exclusiveCpus(n.id).size;
      const free = this.ledger.observedMemFree_kb(n.id);
      if (free !== undefined && n.memory_kb > 0) {
        measured = true;
        if (free < 0.02 * n.memory_kb) full = true;
      }
    }
    const own = cpus > 0 ? Math.min(1, Math.max(0, (demand - cpus) / cpus)) : 0;
    return { cpu: Math.min(p.cpu, own), memory: !measured || full ? p.memory : 0 };
  }
}
