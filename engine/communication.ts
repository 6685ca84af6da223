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
  caller?: { node: TopologyNode; edge: CallEdge };
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

/** What the request's calls are, from the graph and the pools now; undefined when it has none. */
export function callContextFor(
  req: { profile: string; caller?: string },
  graph: FragmentGraph,
  pools: { get(id: string): Fragment | undefined; pool(profile: string): Pool },
  topo: { byId: ReadonlyMap<number, TopologyNode>; nodes: readonly TopologyNode[] },
): CallContext | undefined {
  let caller: CallContext['caller'];
  const from = req.caller === undefined ? undefined : pools.get(req.caller);
  const edge = from && graph.callees(from.profile).find((e) => e.profile === req.profile);
  if (from && edge) caller = { node: topo.byId.get(from.node) as TopologyNode, edge };
  const callees: Callee[] = [];
  for (const e of graph.callees(req.profile)) {
    if (e.mode !== 'sync') continue;
    const p = pools.pool(e.profile);
    callees.push({ edge: e, service_ms: p.service_ms ?? p.cfg.service_ms, memory_intensity: p.cfg.memory_intensity, nearest: p.nearestWarm(topo.nodes) });
  }
  return caller || callees.length ? { ...(caller ? { caller } : {}), callees } : undefined;
}
