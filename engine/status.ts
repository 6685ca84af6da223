/**
 * A JSON snapshot of the engine for status endpoints, journals and reports: pressure, every
 * pool's figures, every node's bookkeeping, the deferred queue, open incidents and, with the
 * fragment graph, outages (open, and the last 20 closed) with their root cause.
 */
import type { Outages } from './cascade.ts';
import type { HealthMonitor } from './health.ts';
import type { PoolLifecycle } from './lifecycle.ts';
import { roundTo } from './round.ts';

/** What the snapshot reads. */
export interface StatusParts {
  life: PoolLifecycle;
  /** Requests waiting, deferred or for room. */
  deferred: number;
  monitor: HealthMonitor;
  /** Pool outages while the fragment graph's terms are on, else undefined. */
  outages: Outages | undefined;
}

export function statusOf({ life, deferred, monitor, outages }: StatusParts) {
  const { ledger } = life;
  return {
    t_ms: life.now,
    pressure: life.pressure.systemView(),
    pools: [...life.pools.pools.values()]
      .sort((a, b) => (a.profile < b.profile ? -1 : 1))
      .map((p) => ({
        profile: p.profile,
        size: p.size,
        ...p.count,
        target: p.wanted ?? p.target,
        min: p.cfg.pool.min,
        max: p.cfg.pool.max,
        utilization: roundTo(p.utilization, 4),
        avg_latency_ms: roundTo(p.avg_latency_ms, 4),
        throughput_rps: roundTo(p.throughput_rps, 4),
        error_rate: roundTo(p.error_rate, 4),
      })),
    nodes: life.topo.nodes.map((n) => ({
      id: n.id,
      fragments: ledger.fragmentsOn(n.id),
      active: ledger.activeOn(n.id),
      reserved_cpu: roundTo(ledger.reservedCpu(n.id), 4),
      cpu_load: roundTo(ledger.cpuLoad(n.id), 4),
      mem_free_kb: ledger.memFree_kb(n.id),
      exclusive_cpus: [...ledger.exclusiveCpus(n.id)].sort((a, b) => a - b),
    })),
    deferred,
    incidents: { open: monitor.openIncidents(), closed: monitor.closedIncidents().length },
    // Only with the fragment graph's terms on, so a status without calls reads as before.
    ...(outages ? { outages: recentOutages(outages) } : {}),
  };
}

/** Open outages, and the last 20 closed. */
function recentOutages(outages: Outages) {
  const { open, closed } = outages.list();
  return { open, closed: closed.slice(-20) };
}

export type Status = ReturnType<typeof statusOf>;
