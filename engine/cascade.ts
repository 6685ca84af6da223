/**
 * Cascading health: a profile whose pool is down takes its callers down with it, and fgo should
 * say so once, with the root cause, instead of letting each caller time out and heal each victim.
 *
 * A pool is **down** when none of its fragments serves — none warm or active outside an open
 * incident — while its failures are more than one restart will mend: two or more fragments failing
 * (under repair, or failed), or one that failed again while under repair. (A lone fragment that
 * crashed once is simply restarting: its callers wait for it, as they would for a cold start.) It stays down until
 * one serves again: a pool whose repairs gave up and emptied is still down, not recovered. Each
 * stretch of downtime is one outage, detected once and recovered once, with the callers whose
 * requests were failed fast because of it. While a profile is down, a request to it or to any
 * profile that always waits on it through sync calls is shed at once with the outage named (the
 * orchestrator asks `blocking`), and errors a caller reports against a down dependency are not
 * held against the caller's health (orchestrator.ts `complete`).
 */
import type { FragmentGraph } from './graph.ts';
import type { Fragment, Pool } from './pools.ts';

export interface Outage {
  id: number;
  /** The profile that is down: the root cause. */
  profile: string;
  detected_ms: number;
  recovered_ms?: number;
  /** Requests shed at once because of it (its own and its callers'). */
  failed_fast: number;
  /** Profiles whose requests were failed fast because of it, in the order first seen. */
  callers: string[];
}

/** Closed outages kept for reports; older ones are dropped. */
const CLOSED_KEPT = 1_000;

export class Outages {
  private readonly open = new Map<string, Outage>();
  private readonly closed: Outage[] = [];
  private nextId = 0;

  /** Judge a pool again after a change to it (a crash, a start, a completion, a health check). */
  update(pool: Pool, sick: (f: Fragment) => boolean, t_ms: number): void {
    const { serving, failing, relapsed } = census(pool, sick);
    const outage = this.open.get(pool.profile);
    if (!outage && serving === 0 && (failing >= 2 || relapsed)) {
      this.open.set(pool.profile, {
        id: this.nextId++,
        profile: pool.profile,
        detected_ms: t_ms,
        failed_fast: 0,
        callers: [],
      });
    } else if (outage && serving > 0) {
      outage.recovered_ms = t_ms;
      this.open.delete(pool.profile);
      this.closed.push(outage);
      if (this.closed.length > CLOSED_KEPT) this.closed.shift();
    }
  }

  isOpen(profile: string): boolean {
    return this.open.has(profile);
  }

  /** The outage a request of `profile` would wait on: its own pool's, else that of its nearest down dependency it always calls. */
  blocking(profile: string, graph: FragmentGraph): Outage | undefined {
    if (this.open.size === 0) return undefined;
    const own = this.open.get(profile);
    if (own) return own;
    for (const d of graph.certainDependencies(profile)) {
      const outage = this.open.get(d);
      if (outage) return outage;
    }
    return undefined;
  }

  /** Count a request of `profile` failed fast because of `outage`. */
  failedFast(outage: Outage, profile: string): void {
    outage.failed_fast++;
    if (profile !== outage.profile && !outage.callers.includes(profile)) outage.callers.push(profile);
  }

  list(): { open: Outage[]; closed: readonly Outage[] } {
    return { open: [...this.open.values()].sort((a, b) => a.id - b.id), closed: this.closed };
  }
}

function census(pool: Pool, sick: (f: Fragment) => boolean): { serving: number; failing: number; relapsed: boolean } {
  let serving = 0,
    failing = 0,
    relapsed = false;
  for (const f of pool.fragments.values()) {
    const repair = sick(f);
    if ((f.state === 'warm' || f.state === 'active') && !repair) serving++;
    else if (repair || f.state === 'failed') failing++;
    if (repair && f.state === 'failed') relapsed = true;
  }
  return { serving, failing, relapsed };
}
