/**
 * Expected latency: where a request finishes soonest, in milliseconds. A warm fragment far from the
 * request's data against a cold start beside it, a crowded node against a quiet one — every choice
 * of node is priced the same way:
 *
 *   expected_ms = start_ms + service_ms × remote × contention + calls_ms
 *
 * - start_ms: the profile's warm-start time where a warm fragment of it is idle, else its cold start.
 * - service_ms: the profile's measured execution time on a warm, local fragment (pools.ts keeps it;
 *   the profile's `service_ms` until something has completed).
 * - remote: 1 + memory_intensity × (SLIT distance from the data's node ÷ local distance − 1), the
 *   slowdown of work whose memory is elsewhere (1 without a memory home).
 * - contention: how much slower a CPU-bound task runs on the node with this request added: the
 *   runnable demand over the usable CPUs when above 1 (processor sharing), where the demand is the
 *   larger of what fgo reserved there and what the node measures — busy share plus CPU stall, which
 *   by the kernel's balanced-load rule is the runnable tasks per CPU once they exceed the CPUs (so a
 *   neighbour fgo never placed counts) — and × 1 ÷ (1 − memory stall) on a node that thrashes.
 * - calls_ms: the communication term of the fragment graph (communication.ts), when it is on.
 *
 * Among the nodes that fit, the least expected latency wins; ties go to the node nearer the data,
 * then a preferred node, then the one with the least of its CPUs reserved by fgo (so equal nodes
 * take turns without a random draw), then the lowest id.
 */
import { callCost_ms, type CallContext } from './communication.ts';
import type { Profile } from './config.ts';
import type { NodeLedger, NodePressures, WarmCounts } from './placement.ts';
import type { TopologyNode } from './topology.ts';
import type { NodeObservation, NodeScore, Resource } from './types.ts';
import { roundTo } from './round.ts';

/** A thrashing node is priced at most this many times slower (its stall capped at 90 %). */
const MAX_STALL = 0.9;

/** The remote-memory slowdown of work with data on `home` running on `node`. */
export function remoteFactor(home: TopologyNode | undefined, node: TopologyNode, memory_intensity: number): number {
  if (!home || home.id === node.id) return 1;
  const local = home.distances[home.index] as number;
  return 1 + memory_intensity * ((home.distances[node.index] as number) / local - 1);
}

/**
 * Slowdown of one more task needing `cpus` on a node: demand (runnable, in CPUs) over usable CPUs
 * when above 1, times the memory stall's. `observed` and `pressure` are the node's last sample.
 */
export function contention(
  usable: number,
  reserved_cpu: number,
  cpus: number,
  observed: NodeObservation | undefined,
  pressure: Readonly<Record<Resource, number>> | undefined,
): number {
  if (usable <= 0) return Infinity;
  const measured = observed?.cpu_util !== undefined ? usable * (observed.cpu_util + (pressure?.cpu ?? 0)) : 0;
  const demand = Math.max(reserved_cpu, measured) + cpus;
  const cpu = Math.max(1, demand / usable);
  return cpu / (1 - Math.min(MAX_STALL, pressure?.memory ?? 0));
}

export interface LatencyInputs {
  profile: Profile;
  /** Measured execution time of the profile on a warm, local, uncontended fragment (ms). */
  service_ms: number;
  home: TopologyNode | undefined;
  cpus: number;
  ledger: NodeLedger;
  warm: WarmCounts;
  pressure: NodePressures;
  /** The request's calls, for the communication term (communication.ts); absent: no calls priced. */
  calls?: CallContext | undefined;
}

/** Expected latency (ms) of the request on `node`, with the terms that make it up. */
export function expectedLatency(
  node: TopologyNode,
  i: LatencyInputs,
): { expected_ms: number; start_ms: number; remote: number; contention: number; calls_ms: number } {
  const start_ms = startOn(node.id, i.warm, i.profile);
  const remote = remoteFactor(i.home, node, i.profile.memory_intensity);
  const c = contentionOn(
    node.id,
    i.ledger,
    i.pressure,
    i.cpus,
    i.ledger.usableCpus(node.id).length,
    i.ledger.reservedCpu(node.id),
  );
  const calls_ms = i.calls ? callCost_ms(node, i.calls) : 0;
  return {
    expected_ms: total_ms(start_ms, i.service_ms, remote, c, calls_ms),
    start_ms,
    remote,
    contention: c,
    calls_ms,
  };
}

const startOn = (id: number, warm: WarmCounts, profile: Profile) =>
  warm.warmOn(id) > 0 ? profile.warm_start_ms : profile.cold_start_ms;
/** `usable` and `reserved` passed in: the caller has them already. */
const contentionOn = (
  id: number,
  ledger: NodeLedger,
  pressure: NodePressures,
  cpus: number,
  usable: number,
  reserved_cpu: number,
) => contention(usable, reserved_cpu, cpus, ledger.observed(id), pressure.nodeValues(id));
/** The sum of the terms, in this one order (floating point): every price of a node goes through it. */
const total_ms = (start_ms: number, service_ms: number, remote: number, c: number, calls_ms: number) =>
  start_ms + service_ms * remote * c + calls_ms;

/**
 * Price every eligible node (setting its score's `expected_ms`) and return the one to use, or
 * undefined when none is eligible. Deterministic: no random draw. It runs for every node of every
 * decision, so it keeps the best node's sort key in locals rather than building one per node.
 */
export function pickByLatency(scores: NodeScore[], i: LatencyInputs): NodeScore | undefined {
  let best: NodeScore | undefined;
  // The best node's key: expected ms, then nearer the data, then preferred, then least booked, then lowest id.
  let bExpected = 0,
    bFar = 0,
    bOther = 0,
    bBooked = 0;
  // Loop invariants in locals: at 64 nodes this loop is a quarter of a decision.
  const { ledger, profile, home, calls, pressure, warm, service_ms, cpus } = i;
  const preferred = profile.preferred_nodes,
    anyPreferred = preferred.length > 0,
    intensity = profile.memory_intensity;
  for (let k = 0; k < scores.length; k++) {
    const s = scores[k] as NodeScore;
    if (!s.eligible) continue;
    const id = s.node;
    const node = ledger.node(id);
    const usable = ledger.usableCpus(id).length;
    const reserved = ledger.reservedCpu(id);
    const calls_ms = calls ? callCost_ms(node, calls) : 0;
    const expected = roundTo(
      total_ms(
        startOn(id, warm, profile),
        service_ms,
        remoteFactor(home, node, intensity),
        contentionOn(id, ledger, pressure, cpus, usable, reserved),
        calls_ms,
      ),
      1,
    );
    s.expected_ms = expected;
    if (calls) s.calls_ms = roundTo(calls_ms, 3);
    const far = -s.locality;
    const other = anyPreferred && preferred.includes(id) ? 0 : 1;
    const booked = usable > 0 ? reserved / usable : Infinity;
    // Lexicographic, each field decided by the first that differs (NaN differs and never wins).
    const better = !best
      ? true
      : expected !== bExpected
        ? expected < bExpected
        : far !== bFar
          ? far < bFar
          : other !== bOther
            ? other < bOther
            : booked !== bBooked
              ? booked < bBooked
              : id < best.node;
    if (better) {
      best = s;
      bExpected = expected;
      bFar = far;
      bOther = other;
      bBooked = booked;
    }
  }
  return best;
}
