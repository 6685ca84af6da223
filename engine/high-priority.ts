/**
 * High priority keeps the CPUs in sustained overload.
 *
 * `cpu_overcommit` lets a node book more CPU than it has, and on overcommitted CPUs every task
 * slows alike (processor sharing): high-priority work beside low-priority work runs as slowly as
 * it does. Once requests have waited for room at every tick for `SUSTAINED_OVERLOAD_MS`, a
 * request below high priority may not book a node past its CPUs while high-priority work runs
 * there. Outside sustained overload nothing changes, so short bursts still use the overcommit.
 *
 * @example
 * guard.placed(f); // f was given a request
 * guard.tick(t_ms, room.size > 0);
 * guard.exclude(scores, req, t_ms, ledger); // nodes where req would crowd high priority: ineligible
 */
import type { NodeLedger } from './placement.ts';
import type { Fragment } from './pools.ts';
import type { NodeScore, Request } from './types.ts';

/** How long requests must have waited for room at every tick before lower priorities give high priority the CPUs. */
export const SUSTAINED_OVERLOAD_MS = 10_000;
const HIGH_PRIORITY = 2;

export class HighPriorityGuard {
  /** High-priority requests running per node. */
  private readonly runningOn = new Map<number, number>();
  /** Since when requests have waited for room at every tick (undefined: a tick found none waiting). */
  private overloadedSince_ms: number | undefined;

  /**
   * Fragments given a high-priority request, kept until they no longer hold it: every fragment
   * that holds one is here (a request reaches a fragment only through a placement, which reports
   * it), so the recount walks these instead of every fragment.
   */
  private readonly holders = new Set<Fragment>();

  /** A request was placed on `f` (its `request` now). */
  placed(f: Fragment): void {
    if ((f.request?.priority ?? 0) < HIGH_PRIORITY) return;
    this.holders.add(f);
    this.count(f.node);
  }

  private count(node: number): void {
    this.runningOn.set(node, (this.runningOn.get(node) ?? 0) + 1);
  }

  /** The request `f` held ended (completed or lost): it no longer counts on its node. */
  ended(f: Fragment): void {
    if ((f.request?.priority ?? 0) >= HIGH_PRIORITY)
      this.runningOn.set(f.node, Math.max(0, (this.runningOn.get(f.node) ?? 0) - 1));
  }

  /**
   * Once a tick: note whether requests wait for room, and recount the high-priority work per node
   * from the fragments themselves, so a request lost on a path that does not report it (a hang
   * found by a health check) cannot hold its node's count up for good.
   */
  tick(t_ms: number, waiting: boolean): void {
    if (!waiting) this.overloadedSince_ms = undefined;
    else this.overloadedSince_ms ??= t_ms;
    this.runningOn.clear();
    for (const f of this.holders) {
      // Stopped is final; a fragment that lost its request gets a new one only through placed().
      if (f.state === 'stopped' || (f.request?.priority ?? 0) < HIGH_PRIORITY) this.holders.delete(f);
      else if (f.state === 'active' || f.state === 'starting' || f.state === 'draining') this.count(f.node);
    }
  }

  /** In sustained overload, make ineligible the nodes where `req` (below high priority) would book past the CPUs of high-priority work. */
  exclude(scores: NodeScore[], req: Request, t_ms: number, ledger: NodeLedger): void {
    if (
      req.priority >= HIGH_PRIORITY ||
      this.overloadedSince_ms === undefined ||
      t_ms - this.overloadedSince_ms < SUSTAINED_OVERLOAD_MS
    )
      return;
    for (const sc of scores) {
      const usable = ledger.usableCpus(sc.node).length;
      if (
        sc.eligible &&
        (this.runningOn.get(sc.node) ?? 0) > 0 &&
        ledger.reservedCpu(sc.node) + req.cpus > usable + 1e-9
      ) {
        sc.eligible = false;
        sc.total = 0;
        sc.excluded = `high-priority work runs here and its ${usable} CPUs are booked`;
      }
    }
  }
}
