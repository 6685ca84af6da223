/**
 * Calls between fragments in the twin (the fragment graph): when a request's own work is done, it
 * makes the calls its profile declares, each a sub-request scheduled by the policy like any other.
 * A sync call's caller keeps its fragment and waits for every answer; its latency includes theirs
 * and the transfer of each call's bytes over the distance between the two fragments' nodes
 * (engine/communication.ts `transfer_ms`, the same price the engine reckons with). An async call
 * is made and not waited for.
 *
 * The physics does not depend on the policy: a call's payload lives on its caller's node, so a
 * callee with no data of its own works on remote memory when placed elsewhere, whoever placed it.
 * What the policy is told is what a host would tell it: the request, and which fragment called.
 *
 * Calls per request are `per_request` on average: its whole part always, its fraction as a draw
 * from the run's own `calls` stream (so a scenario without calls draws nothing and stays as it was).
 */
import type { Topology } from '../engine/topology.ts';
import { transfer_ms } from '../engine/communication.ts';
import type { SimProfile } from './scenario.ts';
import type { SimFragment, SimRequest } from './fragment.ts';
import { makeRng, type Rng } from './random.ts';
import { drawCpu_ms, drawWorkingSet_kb } from './workload.ts';

export class CallMaker {
  private readonly rng: Rng;
  private readonly wsRng: Rng;
  private readonly homeRng: Rng;
  /** Nodes with memory: where a callee's own data may live. */
  private readonly homes: number[];

  constructor(
    seed: string,
    private readonly profileOf: (name: string) => SimProfile,
    private readonly topo: Topology,
  ) {
    this.homes = topo.nodes.filter((n) => n.memory_kb > 0).map((n) => n.id);
    this.rng = makeRng(seed, 'calls');
    this.wsRng = makeRng(seed, 'calls:working-set');
    this.homeRng = makeRng(seed, 'calls:home');
  }

  /** The sub-requests `parent` makes now, on fragment `f`, its work done; none when its profile calls nobody. */
  make(parent: SimRequest, f: SimFragment, now_us: number): SimRequest[] {
    const out: SimRequest[] = [];
    const calls = parent.profile.calls;
    if (calls.length === 0) return out;
    const homes = this.homes;
    for (const c of calls) {
      const whole = Math.floor(c.per_request);
      const n = whole + (this.rng() < c.per_request - whole ? 1 : 0);
      const p = this.profileOf(c.profile);
      for (let k = 0; k < n; k++) {
        // The callee's own data, if it has any; else the payload on the caller's node.
        const own =
          p.home === 'none'
            ? undefined
            : p.home === 'random'
              ? homes[Math.floor(this.homeRng() * homes.length)]
              : p.home;
        out.push({
          req: {
            id: `${parent.req.id}.${parent.attempt}.${out.length}`,
            profile: c.profile,
            cpus: p.cpus,
            memory_kb: Math.round(p.request_mb * 1024),
            priority: parent.req.priority,
            io_intensive: p.io_ms > 0,
            ...(own === undefined ? {} : { memory_home: own }),
            caller: f.id,
          },
          arrival_us: now_us,
          cpu_ms: drawCpu_ms(p, this.rng),
          io_ms: p.io_ms,
          mem_kb: drawWorkingSet_kb(p, p.request_mb, this.wsRng),
          home: own ?? f.node,
          profile: p,
          deferred: false,
          cold: false,
          attempt: 0,
          pending: 0,
          done: false,
          call: { parent, attempt: parent.attempt, sync: c.mode === 'sync', bytes: c.bytes, from_node: f.node },
        });
      }
    }
    return out;
  }

  /** Microseconds the call's bytes take between its caller's node and the node that served it. */
  transfer_us(sr: SimRequest, node: number): number {
    if (!sr.call || sr.call.bytes === 0) return 0;
    const a = this.topo.byId.get(sr.call.from_node),
      b = this.topo.byId.get(node);
    return a && b ? Math.round(transfer_ms(sr.call.bytes, a, b) * 1000) : 0;
  }
}
