/**
 * A run's arrivals turned into requests: each source (a profile's generator, or a replayed trace)
 * is fed one arrival at a time into the event queue, and each arrival, when its time comes, becomes
 * a request — its home, CPU time, priority and working set drawn from the run's own streams unless
 * the trace row carries them — counted, told to the demand forecasts, and submitted to the shell.
 */
import type { Request, Topology } from '../engine/index.ts';
import type { ScalingForecasts } from './agent-loop.ts';
import type { EventQueue } from './events.ts';
import type { SimRequest } from './fragment.ts';
import type { Metrics } from './metrics.ts';
import { makeRng } from './random.ts';
import type { SimProfile } from './scenario.ts';
import type { Shell } from './shell.ts';
import {
  demandReplay,
  drawCpu_ms,
  drawPriority,
  drawWorkingSet_kb,
  generator,
  requestReplay,
  type ArrivalSource,
  type WorkloadTrace,
} from './workload.ts';

export interface ArrivalTargets {
  q: EventQueue;
  shell: Shell;
  metrics: Metrics;
  forecasts: ScalingForecasts;
  /** The scenario's catalogue, and `*` for a profile it does not name. */
  profiles: ReadonlyMap<string, SimProfile>;
  topo: Topology;
  seed: string;
  end_us: number;
  warn?: ((message: string) => void) | undefined;
}

/**
 * Feed every source: the workload trace if there is one, else each profile's generator (in name
 * order, so the queue's tie-breaking is the same every run), then the replayed traces.
 */
export function feedArrivals(
  t: ArrivalTargets,
  generated: Record<string, SimProfile>,
  workload: WorkloadTrace | undefined,
  replay: readonly WorkloadTrace[],
): void {
  const { seed, end_us } = t;
  const feed = arrivalFeeder(t);
  if (workload?.kind === 'demand') feed(demandReplay(workload.rows, seed, end_us));
  else if (workload?.kind === 'request') feed(requestReplay(workload.rows, end_us));
  else
    for (const [name, p] of Object.entries(generated).sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      feed(generator(name, p, seed, end_us));
  for (const [i, r] of replay.entries())
    feed(r.kind === 'demand' ? demandReplay(r.rows, seed, end_us, `replay:${i}`) : requestReplay(r.rows, end_us));
}

/** The function that schedules a source's next arrival, and at its time submits it and schedules the one after. */
function arrivalFeeder(t: ArrivalTargets): (src: ArrivalSource) => void {
  const { q, profiles } = t;
  const homes = t.topo.nodes.filter((n) => n.memory_kb > 0).map((n) => n.id);
  const reqRng = makeRng(t.seed, 'requests');
  // Its own stream, drawn only for profiles that have a working set: other runs stay byte-identical.
  const wsRng = makeRng(t.seed, 'working-set');
  const warned = new Set<string>();
  let n = 0;
  const feed = (src: ArrivalSource) => {
    const a = src.next();
    if (!a) return;
    q.at(a.t_us, () => {
      let p = profiles.get(a.profile);
      if (!p) {
        p = profiles.get('*') as SimProfile;
        if (!warned.has(a.profile))
          t.warn?.(`profile '${a.profile}' is not in the scenario's catalogue: using default start times`);
        warned.add(a.profile);
      }
      const home =
        p.home === 'none' ? undefined : p.home === 'random' ? homes[Math.floor(reqRng() * homes.length)] : p.home;
      const cpu_ms = a.cpu_ms ?? drawCpu_ms(p, reqRng);
      const req: Request = {
        id: `r${n++}`,
        profile: a.profile,
        cpus: p.cpus,
        memory_kb: Math.round((a.mem_mb ?? p.request_mb) * 1024),
        priority: a.priority ?? drawPriority(p, reqRng),
        io_intensive: a.io ?? p.io_ms > 0,
      };
      if (home !== undefined) req.memory_home = home; // assigned, not spread: once per arrival, and the same key order
      const sr: SimRequest = {
        req,
        arrival_us: q.now_us,
        cpu_ms,
        io_ms: a.io === false ? 0 : p.io_ms,
        mem_kb: drawWorkingSet_kb(p, a.mem_mb ?? p.request_mb, wsRng),
        home,
        profile: p,
        deferred: false,
        cold: false,
        attempt: 0,
        pending: 0,
        done: false,
      };
      t.metrics.arrival(sr);
      t.forecasts.arrival(a.profile, q.now_us);
      t.shell.submit(sr);
      feed(src);
    });
  };
  return feed;
}
