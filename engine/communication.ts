/**
 * The communication term of placement: what calls between fragments cost on a given node, in
 * milliseconds, so it adds to a request's expected latency (latency.ts) like every other term.
 *
 * A call moves its bytes between the caller's node and the callee's, and the callee works on a
 * payload the caller wrote into the caller's memory. So, for a request on node n:
 *
 * - as a **callee** (a sub-request from a fragment on node a): its payload lives on a, so a is its
 *   memory home when it has no data of its own (the remote-memory factor of latency.ts prices
 *   that); and the call's bytes cross from a to n: `transfer_ms(bytes, a, n)`;
 * - as a **caller** (its profile makes sync calls): each call per request will be served best
 *   by a warm fragment of the callee on n itself; where n has none, by the nearest node m that
 *   has one, at service_ms × (remote factor n→m − 1) more, plus the transfer. A callee warm
 *   nowhere adds nothing (its cold start is the same anywhere).
 *
 * transfer_ms = bytes ÷ LOCAL_BYTES_PER_MS × SLIT distance(a, n) ÷ local distance: a copy at local
 * memory bandwidth, slowed by distance as remote memory is.
 */
import type { CallEdge, FragmentGraph } from './graph.ts';
import type { Fragment, Pool } from './pools.ts';
import type { TopologyNode } from './topology.ts';

/** Bytes one call copies per millisecond between CPUs of one node (10 GB/s). */
export const LOCAL_BYTES_PER_MS = 1e7;

/** Milliseconds to move `bytes` from a fragment on `from` to one on `to`. */
export function transfer_ms(bytes: number, from: TopologyNode, to: TopologyNode): number {
  return (bytes / LOCAL_BYTES_PER_MS) * ((from.distances[to.index] as number) / (from.distances[from.index] as number));
}

/** One sync callee of the request's profile, as the caller term needs it. */
export interface Callee {
  edge: CallEdge;
  service_ms: number;
  memory_intensity: number;
  /**
   * By node index: distance to the nearest node with a warm fragment of the callee over the local
   * distance; NaN when none is warm (pools.ts `nearestWarm`).
   */
  nearest: Float64Array;
}

/** What the communication term needs of one request. */
export interface CallContext {
  /** For a sub-request: the calling fragment's node and the call. */
  caller?: { node: TopologyNode; edge: CallEdge } | undefined;
  callees: readonly Callee[];
}

/** The communication term (ms) of the request on `node`: the caller's call to it, and its own calls. */
export function callCost_ms(node: TopologyNode, ctx: CallContext): number {
  let ms = ctx.caller ? transfer_ms(ctx.caller.edge.bytes, ctx.caller.node, node) : 0;
  for (const c of ctx.callees) ms += c.edge.per_request * calleeCost_ms(node, c);
  return ms;
}

/**
 * What one call to `c` costs a caller on `node`: served by the nearest warm fragment of it, which
 * is also the cheapest, since both the remote-memory factor (latency.ts) and the transfer grow
 * with the distance ratio r: service_ms × memory_intensity × (r − 1) + bytes ÷ LOCAL_BYTES_PER_MS × r.
 */
function calleeCost_ms(node: TopologyNode, c: Callee): number {
  const r = c.nearest[node.index] as number;
  if (Number.isNaN(r)) return 0;
  return c.service_ms * c.memory_intensity * (r - 1) + (c.edge.bytes / LOCAL_BYTES_PER_MS) * r;
}

/**
 * The calls of each request, from the graph and the pools now. Objects are kept per profile and
 * refreshed in place: a decision's context is read before the next is asked for, and the hot path
 * allocates nothing for it.
 */
export class CallContexts {
  private readonly byProfile = new Map<string, { callees: Callee[]; pools: Pool[] }>();
  private readonly ctx: { caller?: { node: TopologyNode; edge: CallEdge } | undefined; callees: readonly Callee[] } = {
    callees: [],
  };
  private readonly slot = {} as { node: TopologyNode; edge: CallEdge };

  constructor(
    private readonly graph: FragmentGraph,
    private readonly pools: { get(id: string): Fragment | undefined; pool(profile: string): Pool },
    private readonly topo: { byId: ReadonlyMap<number, TopologyNode>; nodes: readonly TopologyNode[] },
  ) {}

  /** The request's calls (valid until the next call of `of`); undefined when it makes none and is none. */
  of(req: { profile: string; caller?: string }): CallContext | undefined {
    let own = this.byProfile.get(req.profile);
    if (!own) {
      const sync = this.graph.callees(req.profile).filter((e) => e.mode === 'sync');
      const pools = sync.map((e) => this.pools.pool(e.profile));
      own = {
        pools,
        callees: sync.map((edge, i) => ({
          edge,
          service_ms: 0,
          memory_intensity: (pools[i] as Pool).cfg.memory_intensity,
          nearest: new Float64Array(0),
        })),
      };
      this.byProfile.set(req.profile, own);
    }
    for (let i = 0; i < own.callees.length; i++) {
      const c = own.callees[i] as Callee,
        p = own.pools[i] as Pool;
      c.service_ms = p.service_ms ?? p.cfg.service_ms;
      c.nearest = p.nearestWarm(this.topo.nodes);
    }
    // Plain loops and one reused caller slot: this runs for every decision of a graph.
    let caller: { node: TopologyNode; edge: CallEdge } | undefined;
    const from = req.caller === undefined ? undefined : this.pools.get(req.caller);
    if (from) {
      for (const e of this.graph.callees(from.profile)) {
        if (e.profile !== req.profile) continue;
        caller = this.slot;
        caller.node = this.topo.byId.get(from.node) as TopologyNode;
        caller.edge = e;
        break;
      }
    }
    if (!caller && own.callees.length === 0) return undefined;
    this.ctx.caller = caller;
    this.ctx.callees = own.callees;
    return this.ctx;
  }
}
