/**
 * A JSON snapshot of the orchestrator for status endpoints, journals and reports: pressure, every
 * pool's figures, every node's bookkeeping, the deferred queue, open incidents and, with the
 * fragment graph, outages (open, and the last 20 closed) with their root cause.
 */
import type { Orchestrator } from './orchestrator.ts';

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

export function statusOf(o: Orchestrator) {
  const { ledger } = o;
  return {
    t_ms: o.now,
    pressure: o.pressure.systemView(),
    pools: [...o.pools.pools.values()]
      .sort((a, b) => (a.profile < b.profile ? -1 : 1))
      .map((p) => ({
        profile: p.profile,
        size: p.size,
        ...p.count,
        target: p.wanted ?? p.target,
        min: p.cfg.pool.min,
        max: p.cfg.pool.max,
        utilization: round4(p.utilization),
        avg_latency_ms: round4(p.avg_latency_ms),
        throughput_rps: round4(p.throughput_rps),
        error_rate: round4(p.error_rate),
      })),
    nodes: o.topo.nodes.map((n) => ({
      id: n.id,
      fragments: ledger.fragmentsOn(n.id),
      active: ledger.activeOn(n.id),
      reserved_cpu: round4(ledger.reservedCpu(n.id)),
      cpu_load: round4(ledger.cpuLoad(n.id)),
      mem_free_kb: ledger.memFree_kb(n.id),
      exclusive_cpus: [...ledger.exclusiveCpus(n.id)].sort((a, b) => a - b),
    })),
    deferred: o.queue.size + o.room.size,
    incidents: { open: o.healer.monitor.openIncidents(), closed: o.healer.monitor.closedIncidents().length },
    // Only with the fragment graph's terms on, so a status without calls reads as before.
    ...(o.graphOn ? { outages: recentOutages(o) } : {}),
  };
}

/** Open outages, and the last 20 closed. */
function recentOutages(o: Orchestrator) {
  const { open, closed } = o.outages.list();
  return { open, closed: closed.slice(-20) };
}

export type Status = ReturnType<typeof statusOf>;
