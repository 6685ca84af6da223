/**
 * Placement: which NUMA node (and which CPUs) a fragment gets. Holds the node ledger — what the
 * engine has reserved on each node, which CPUs are online, which are held exclusively — and
 * scores nodes with the design's weights:
 *
 *   resource 40 % (cpu availability × 0.6 + memory availability × 0.4)
 *   locality 30 % (SLIT: local distance ÷ distance from the request's memory home)
 *   affinity 20 % (½ for a preferred node, ½ for a warm fragment of the profile there)
 *   balance  10 % (1 − active fragments on the node ÷ those on the busiest node)
 *   × (1 − (node cpu + memory pressure)/2 × 0.3)
 *
 * then picks uniformly among the candidates within `near_best_margin` of the best (and no farther
 * from the data), from the seeded `placement` stream, so equal nodes do not all receive the next
 * burst.
 */
import type { Config, Profile } from './config.ts';
import type { Streams } from './rng.ts';
import type { Topology, TopologyNode } from './topology.ts';
import type { NodeObservation, NodeScore, Resource } from './types.ts';
import { roundTo } from './round.ts';

interface NodeBook {
  readonly node: TopologyNode;
  reserved_cpu: number;
  reserved_mem_kb: number;
  fragments: number;
  /** Fragments serving a request now: the load that `balance` spreads (idle warm ones are not load). */
  active: number;
  /** Allowed and online CPUs. */
  usable: number[];
  exclusive: Set<number>;
  /** Fragments holding exclusive CPUs here (the rest of `fragments` run on the shared ones). */
  holders: number;
  /** usable minus exclusive: where shared fragments run. */
  shared: number[];
  observed?: NodeObservation;
}

/** What the engine has handed out on every node; the single source of fit decisions. */
export class NodeLedger {
  private readonly books: NodeBook[];
  /** Node id → book, as a plain array: the score loop looks books up ~10 times per node. */
  private readonly byId: Array<NodeBook | undefined> = [];
  private lastOnline: readonly number[] | undefined;
  private lastOnlineArg: readonly number[] | undefined;
  private lastNodes: readonly NodeObservation[] | undefined;

  /**
   * `minShared`: CPUs per node never handed out exclusively (placement.min_shared_cpus). A node
   * running shared fragments keeps at least one whatever it says, or they would have no CPU.
   */
  constructor(
    readonly topo: Topology,
    readonly overcommit: number,
    readonly minShared = 1,
  ) {
    this.books = topo.nodes.map((node) => ({
      node,
      reserved_cpu: 0,
      reserved_mem_kb: 0,
      fragments: 0,
      active: 0,
      usable: [],
      exclusive: new Set(),
      holders: 0,
      shared: [],
    }));
    for (let i = 0; i < topo.nodes.length; i++) this.byId[(topo.nodes[i] as TopologyNode).id] = this.books[i];
    this.setOnline(topo.json.online_cpus);
  }

  private book(id: number): NodeBook {
    const b = this.byId[id];
    if (!b) throw new Error(`unknown node ${id}`);
    return b;
  }

  /**
   * Take the observation's online CPUs and node measurements; returns whether the set of online
   * CPUs changed (fragments may then need re-pinning). The same arrays as last time (a shell
   * passing one sample to many decisions) cost nothing.
   */
  observe(online: readonly number[] | undefined, nodes: readonly NodeObservation[] | undefined): boolean {
    let changed = false;
    // Absent online_cpus means all online (types.ts), i.e. the topology's online set again: the
    // same array every time, so a shell that never reports online CPUs pays no comparison.
    const now = online ?? this.topo.json.online_cpus;
    if (now !== this.lastOnlineArg) {
      this.lastOnlineArg = now;
      changed = !sameList(now, this.lastOnline);
      if (changed) this.setOnline(now);
    }
    if (nodes !== undefined && nodes === this.lastNodes) return changed;
    this.lastNodes = nodes;
    for (const b of this.books) b.observed = undefined;
    for (const seen of nodes ?? []) {
      const n = this.topo.byId.get(seen.id);
      if (n) (this.books[n.index] as NodeBook).observed = seen;
    }
    return changed;
  }

  private setOnline(online: readonly number[]): void {
    this.lastOnline = [...online];
    const on = new Set(online);
    this.topo.nodes.forEach((n, i) => {
      const b = this.books[i] as NodeBook;
      b.usable = n.allowed_cpus.filter((c) => on.has(c));
      b.shared = b.usable.filter((c) => !b.exclusive.has(c));
    });
  }

  reserve(id: number, dcpu: number, dmem_kb: number): void {
    const b = this.book(id);
    b.reserved_cpu = Math.max(0, b.reserved_cpu + dcpu);
    b.reserved_mem_kb = Math.max(0, b.reserved_mem_kb + dmem_kb);
    // Floating-point sums of fractional CPUs drift; snap near-zero to zero so fit checks stay exact.
    if (b.reserved_cpu < 1e-9) b.reserved_cpu = 0;
  }

  addFragment(id: number): void {
    this.book(id).fragments++;
  }

  removeFragment(id: number): void {
    const b = this.book(id);
    if (b.fragments <= 0) throw new Error(`node ${id}: fragment count would go negative`);
    b.fragments--;
  }

  addActive(id: number, delta: 1 | -1): void {
    const b = this.book(id);
    if (b.active + delta < 0) throw new Error(`node ${id}: active count would go negative`);
    b.active += delta;
  }

  activeOn(id: number): number {
    return this.book(id).active;
  }

  usableCpus(id: number): readonly number[] {
    return this.book(id).usable;
  }

  sharedCpus(id: number): readonly number[] {
    return this.book(id).shared;
  }

  fragmentsOn(id: number): number {
    return this.book(id).fragments;
  }

  reservedCpu(id: number): number {
    return this.book(id).reserved_cpu;
  }

  /** Memory still free on the node: the tighter of capacity − reservations and what the kernel reports. */
  memFree_kb(id: number): number {
    const b = this.book(id);
    const byBook = b.node.memory_kb - b.reserved_mem_kb;
    const seen = b.observed?.mem_free_kb;
    return Math.max(0, seen === undefined ? byBook : Math.min(byBook, seen));
  }

  /** The topology's node of that id (an array lookup, where topology.byId is a Map). */
  node(id: number): TopologyNode {
    return this.book(id).node;
  }

  /** The node's last measurement from the shell, if any. */
  observed(id: number): NodeObservation | undefined {
    return this.book(id).observed;
  }

  /** Free memory the shell last measured on the node, if it measures it. */
  observedMemFree_kb(id: number): number | undefined {
    return this.book(id).observed?.mem_free_kb;
  }

  /** Busy share of the node's CPUs: the larger of measured use and reservations (use lags a placement). */
  cpuLoad(id: number): number {
    const b = this.book(id);
    // Exclusively held CPUs are busy for everyone else, whatever they run.
    const booked = b.usable.length === 0 ? 1 : (b.reserved_cpu + b.exclusive.size) / b.usable.length;
    return Math.min(1, Math.max(booked, b.observed?.cpu_util ?? 0));
  }

  sharedCapacity(id: number): number {
    return this.book(id).shared.length * this.overcommit;
  }

  /** Claim `k` shared CPUs for one fragment, lowest-numbered first (preferring `prefer`). */
  takeExclusive(id: number, k: number, prefer: readonly number[]): number[] {
    const b = this.book(id);
    const pref = new Set(prefer);
    const order = [...b.shared].sort((x, y) => Number(pref.has(y)) - Number(pref.has(x)) || x - y);
    const got = order.slice(0, k).sort((x, y) => x - y);
    if (got.length < k) throw new Error(`node ${id}: ${k} exclusive CPUs requested, ${got.length} free`);
    for (const c of got) {
      if (b.exclusive.has(c)) throw new Error(`cpu ${c} handed out exclusively twice`);
      b.exclusive.add(c);
    }
    b.shared = b.usable.filter((c) => !b.exclusive.has(c));
    if (got.length) b.holders++;
    return got;
  }

  /** CPUs that must stay shared on the node now (see the constructor). */
  keepShared(id: number): number {
    const b = this.book(id);
    return Math.max(this.minShared, b.fragments > b.holders ? 1 : 0);
  }

  releaseExclusive(id: number, cpus: readonly number[]): void {
    const b = this.book(id);
    for (const c of cpus) b.exclusive.delete(c);
    b.shared = b.usable.filter((c) => !b.exclusive.has(c));
    if (cpus.length) b.holders--;
  }

  exclusiveCpus(id: number): ReadonlySet<number> {
    return this.book(id).exclusive;
  }
}

function sameList(a: readonly number[], b: readonly number[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What one placement needs: a request's demand, or a warm fragment's footprint when scaling. */
export interface Demand {
  profile: string;
  cpus: number;
  memory_kb: number;
  exclusive_cpus: number;
  memory_home?: number;
  allowed_nodes?: readonly number[];
}

/**
 * Warm fragments of one profile by node: its pool (pools.ts), or NONE_WARM. An object rather than a
 * closure, so the engine passes the pool itself and allocates nothing per decision for it.
 */
export interface WarmCounts {
  warmOn(node: number): number;
}

/** A placement that counts no warm fragment (a new idle fragment's footprint, an adoption). */
export const NONE_WARM: WarmCounts = { warmOn: () => 0 };

/** Per-node pressure values, when known: the engine's pressure monitor (pressure.ts). */
export interface NodePressures {
  nodeValues(node: number): Readonly<Record<Resource, number>> | undefined;
}

export interface PlacementContext {
  cfg: Config['placement'];
  profile: Profile;
  ledger: NodeLedger;
  /** Warm fragments of the demand's profile on a node. */
  warm: WarmCounts;
  pressure: NodePressures;
}

/** Why a node cannot take the demand, or undefined when it fits. Memory `need_kb` is passed in. */
export function misfit(node: TopologyNode, d: Demand, need_kb: number, ledger: NodeLedger): string | undefined {
  if (!node.allowed) return 'node not allowed for this process';
  if (d.allowed_nodes && !d.allowed_nodes.includes(node.id)) return 'node not allowed for this request';
  if (node.cpus.length === 0) return 'memory-only node (no CPUs)';
  const usable = ledger.usableCpus(node.id).length;
  if (usable === 0) return 'no usable CPUs (offline or not allowed)';
  const shared = ledger.sharedCpus(node.id).length;
  const reserved = ledger.reservedCpu(node.id);
  const cap = ledger.sharedCapacity(node.id);
  if (d.exclusive_cpus > 0) {
    // CPUs stay shared so warm and shared fragments keep somewhere to run (NodeLedger.keepShared).
    const keep = ledger.keepShared(node.id);
    if (shared - d.exclusive_cpus < keep)
      return `needs ${d.exclusive_cpus} exclusive CPUs, ${Math.max(0, shared - keep)} can be spared`;
    if (reserved > ledger.overcommit * (shared - d.exclusive_cpus) + 1e-9)
      return 'exclusive CPUs would overcommit the shared ones';
  } else if (shared === 0) {
    // Every usable CPU is held exclusively (the shared ones went offline): a fragment would get no CPU.
    return 'no shared CPUs (all usable ones are held exclusively)';
  } else if (reserved + d.cpus > cap + 1e-9) {
    return `needs ${d.cpus} CPUs, ${roundTo(Math.max(0, cap - reserved), 6)} free`;
  }
  const free = ledger.memFree_kb(node.id);
  if (need_kb > free) return `needs ${need_kb} kB memory, ${free} kB free`;
  return undefined;
}

/** Memory a placement adds on a node: a cold start holds max(profile, request); a warm one only the excess. */
export function memoryNeed_kb(d: Demand, profile: Profile, warm: boolean): number {
  return warm ? Math.max(0, d.memory_kb - profile.memory_kb) : Math.max(d.memory_kb, profile.memory_kb);
}

/** Why the demand could not fit even on an empty host, or undefined when it could some day. */
export function neverFits(d: Demand, profile: Profile, ledger: NodeLedger): string | undefined {
  const reasons: string[] = [];
  for (const n of ledger.topo.nodes) {
    const cpus = n.allowed_cpus.length;
    if (!n.allowed || cpus === 0 || (d.allowed_nodes && !d.allowed_nodes.includes(n.id))) continue;
    // minShared CPUs always stay shared, so at most cpus − minShared can be exclusive.
    if (d.exclusive_cpus > 0 ? d.exclusive_cpus > cpus - ledger.minShared : d.cpus > cpus * ledger.overcommit)
      reasons.push(`node ${n.id}: too few CPUs`);
    else if (memoryNeed_kb(d, profile, false) > n.memory_kb) reasons.push(`node ${n.id}: too little memory`);
    else return undefined;
  }
  return reasons.length ? reasons.join('; ') : 'no allowed node has CPUs';
}

/** Score every node; ineligible nodes are listed with their reason and a total of 0. */
export function scoreNodes(d: Demand, ctx: PlacementContext): NodeScore[] {
  const { cfg, ledger, profile, warm: warmCounts, pressure } = ctx;
  const nodes = ledger.topo.nodes;
  let maxActive = 0;
  for (let k = 0; k < nodes.length; k++)
    maxActive = Math.max(maxActive, ledger.activeOn((nodes[k] as TopologyNode).id));
  const home = d.memory_home === undefined ? undefined : ledger.topo.byId.get(d.memory_home);
  // Loop invariants, each computed as the per-node expression would (same operands, same result).
  const w = cfg.weights,
    cpuShare = cfg.cpu_share,
    memShare = 1 - cfg.cpu_share,
    penalty = cfg.pressure_penalty;
  const localDistance = home ? (home.distances[home.index] as number) : 0;
  const preferred = profile.preferred_nodes,
    anyPreferred = preferred.length > 0;
  // Sized once and filled in order (measured faster here than growing it by push).
  const out: NodeScore[] = new Array(nodes.length);
  for (let k = 0; k < nodes.length; k++) {
    const node = nodes[k] as TopologyNode;
    const id = node.id;
    const warm = warmCounts.warmOn(id) > 0;
    const excluded = misfit(node, d, memoryNeed_kb(d, profile, warm), ledger);
    const cpuAvail = 1 - ledger.cpuLoad(id);
    const memAvail = node.memory_kb === 0 ? 0 : ledger.memFree_kb(id) / node.memory_kb;
    const resource = cpuShare * cpuAvail + memShare * memAvail;
    const locality = home ? localDistance / (home.distances[node.index] as number) : 1;
    const affinity = 0.5 * (anyPreferred && preferred.includes(id) ? 1 : 0) + 0.5 * (warm ? 1 : 0);
    const balance = maxActive === 0 ? 1 : 1 - ledger.activeOn(id) / maxActive;
    const np = pressure.nodeValues(id);
    const pressure_factor = np ? 1 - ((np.cpu + np.memory) / 2) * penalty : 1;
    const total =
      (w.resource * resource + w.locality * locality + w.affinity * affinity + w.balance * balance) * pressure_factor;
    out[k] = {
      node: id,
      eligible: excluded === undefined,
      resource: roundTo(resource, 6),
      locality: roundTo(locality, 6),
      affinity: roundTo(affinity, 6),
      balance: roundTo(balance, 6),
      pressure_factor: roundTo(pressure_factor, 6),
      total: excluded === undefined ? roundTo(total, 6) : 0,
      // Declared now, undefined until set (JSON leaves them out, in this order, as if absent):
      // adding them later would give every score of every decision a second property store.
      excluded,
      expected_ms: undefined,
      calls_ms: undefined,
    };
  }
  return out;
}

/**
 * The node to use: best eligible score, or a uniform pick among those within the margin of it.
 * Ties in score order by node id, so the candidate list — and thus the pick — is deterministic.
 * No random draw is made when there is only one candidate.
 */
export function selectNode(
  scores: readonly NodeScore[],
  cfg: Pick<Config['placement'], 'near_best_margin' | 'jitter'>,
  streams: Streams,
): NodeScore | undefined {
  let best: NodeScore | undefined;
  for (const s of scores)
    if (s.eligible && (!best || s.total > best.total || (s.total === best.total && s.node < best.node))) best = s;
  if (!best || !cfg.jitter) return best;
  // Near-best candidates no farther from the data than the best: jitter spreads load among
  // equals, it must not trade memory locality for a coin toss.
  const floor = best.total - cfg.near_best_margin - 1e-12;
  const near = scores
    .filter((s) => s.eligible && s.total >= floor && s.locality >= (best as NodeScore).locality)
    .sort((a, b) => b.total - a.total || a.node - b.node);
  if (near.length === 1) return best;
  return near[Math.floor(streams.next('placement') * near.length)];
}

/** CPUs a shared fragment of the profile may use on the node: the profile's affinity when it overlaps. */
export function sharedCpusFor(node: number, profile: Profile, ledger: NodeLedger): number[] {
  const shared = ledger.sharedCpus(node);
  if (profile.cpu_affinity.length === 0) return [...shared];
  const aff = new Set(profile.cpu_affinity);
  const inter = shared.filter((c) => aff.has(c));
  return inter.length ? inter : [...shared];
}
