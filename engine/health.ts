/**
 * Health and self-healing. A fragment is as healthy as its weakest signal (errors, latency,
 * heartbeat, memory, its node): a weighted mean would let a dead heartbeat hide behind good
 * latency figures. Below `unhealthy_below` an incident opens; the symptom picks a ladder of
 * strategies, each tried `max_attempts` times with a timeout before escalating to the next, and
 * the last rung gives up with an alert. Detection and recovery instants are kept per incident so
 * the shells can report MTTD and MTTR.
 *
 * This module decides; the orchestrator carries the decisions out (state changes and commands).
 */
import type { Config, Profile } from './config.ts';
import { windowTotals, type Fragment } from './pools.ts';
import type { FragmentObservation } from './types.ts';
import { roundTo } from './round.ts';

type HealthConfig = Config['health'];

export type Symptom = 'crashed' | 'hung' | 'errors' | 'slow' | 'leak' | 'node_offline';
/** Per-fragment strategies. The fifth, rescale, acts on a whole pool (see healing.ts `check`). */
export type Strategy = 'restart' | 'replace' | 'drain' | 'failover';

export interface HealthSignals {
  errors: number;
  latency: number;
  heartbeat: number;
  memory: number;
  node: number;
  score: number;
  /** The weakest signal's symptom, when the score is below the threshold. */
  symptom?: Symptom;
}

/**
 * Score one fragment; every signal is 1 when healthy and falls to 0. Latency is judged against
 * the profile's SLO and, when its pool has a track record (`peer_latency_ms`, the pool's mean),
 * against three times that: a fragment far slower than its peers is sick even inside a loose SLO.
 */
export function fragmentHealth(
  f: Fragment,
  seen: FragmentObservation | undefined,
  t_ms: number,
  profile: Profile,
  nodeUsable: boolean,
  c: HealthConfig,
  peer_latency_ms = 0,
  out?: HealthSignals,
): HealthSignals {
  const n = f.recent_ok.length;
  // This runs for every fragment at every health check: the window's totals are kept as outcomes arrive.
  const { fails, total_ms } = f.recent_totals ?? windowTotals(f);
  const errorRate = n === 0 ? 0 : fails / n;
  const errors = Math.max(0, 1 - errorRate / c.error_rate_max);
  const meanLatency = n === 0 ? 0 : total_ms / n;
  const ref = peer_latency_ms > 0 ? Math.min(profile.latency_slo_ms, 3 * peer_latency_ms) : profile.latency_slo_ms;
  const latency = meanLatency <= ref ? 1 : ref / meanLatency;
  let heartbeat = 1;
  if (seen?.heartbeat_ms !== undefined) {
    const age = t_ms - seen.heartbeat_ms;
    heartbeat =
      age <= c.heartbeat_interval_ms
        ? 1
        : age >= c.heartbeat_timeout_ms
          ? 0
          : 1 - (age - c.heartbeat_interval_ms) / (c.heartbeat_timeout_ms - c.heartbeat_interval_ms);
  }
  // Past the leak limit the fragment is unhealthy outright: a leak only grows.
  const limit = profile.memory_kb * c.leak_factor;
  const memory = seen?.rss_kb === undefined || limit === 0 || seen.rss_kb <= limit ? 1 : 0;
  const node = nodeUsable ? 1 : 0;
  const crashed = seen?.exited === true;
  const score = crashed ? 0 : Math.min(errors, latency, heartbeat, memory, node);
  // `out` lets the periodic check reuse one object for thousands of fragments.
  const s: HealthSignals = out ?? ({} as HealthSignals);
  s.errors = roundTo(errors, 6);
  s.latency = roundTo(latency, 6);
  s.heartbeat = roundTo(heartbeat, 6);
  s.memory = roundTo(memory, 6);
  s.node = node;
  s.score = roundTo(score, 6);
  // Cleared, not deleted: a delete would turn the reused object into a slow dictionary-mode one.
  if (out) s.symptom = undefined;
  if (score < c.unhealthy_below) {
    // Order matters on ties: the more drastic cause explains the others (a dead node stops heartbeats).
    s.symptom = crashed
      ? 'crashed'
      : node === score
        ? 'node_offline'
        : heartbeat === score
          ? 'hung'
          : memory === score
            ? 'leak'
            : errors === score
              ? 'errors'
              : 'slow';
  }
  return s;
}

/** Strategies to try for a symptom, in order; the last failing means giving up. */
export const LADDER: Record<Symptom, readonly Strategy[]> = {
  crashed: ['restart', 'replace', 'failover'],
  hung: ['restart', 'replace', 'failover'],
  errors: ['restart', 'replace', 'failover'],
  // Slow but working: let in-flight work finish, then replace it.
  slow: ['drain', 'replace', 'failover'],
  leak: ['restart', 'replace'],
  node_offline: ['failover'],
};

export interface Incident {
  id: number;
  /** The fragment being healed; after `replace` it names the replacement. */
  fragment: string;
  /** The fragment the incident was opened for (what a fault injector knows). */
  origin: string;
  profile: string;
  symptom: Symptom;
  detected_ms: number;
  strategy: Strategy;
  /** Rung of the ladder and attempt on it. */
  rung: number;
  attempt: number;
  issued_ms: number;
  deadline_ms: number;
  recovered_ms?: number;
  gave_up_ms?: number;
  /** Every strategy attempt, for the explanation. */
  steps: Array<{
    t_ms: number;
    strategy: Strategy;
    attempt: number;
    outcome: 'issued' | 'timed_out' | 'recovered' | 'gave_up';
  }>;
}

export type Intent =
  | { kind: 'apply'; incident: Incident }
  | { kind: 'rollback'; incident: Incident; strategy: Strategy }
  | { kind: 'give_up'; incident: Incident };

/** Open incidents by fragment, and the closed ones (bounded) for reporting. */
export class HealthMonitor {
  private readonly open = new Map<string, Incident>();
  private readonly closed: Incident[] = [];
  private nextId = 0;
  static readonly CLOSED_KEPT = 10_000;

  constructor(private readonly c: HealthConfig) {}

  incidentFor(fragment: string): Incident | undefined {
    return this.open.get(fragment);
  }

  /** Open an incident for an unhealthy fragment and issue its first strategy. */
  detect(f: Fragment, symptom: Symptom, t_ms: number): Intent[] {
    if (this.open.has(f.id)) return [];
    const strategy = (LADDER[symptom] as readonly Strategy[])[0] as Strategy;
    const inc: Incident = {
      id: this.nextId++,
      fragment: f.id,
      origin: f.id,
      profile: f.profile,
      symptom,
      detected_ms: t_ms,
      strategy,
      rung: 0,
      attempt: 1,
      issued_ms: t_ms,
      deadline_ms: t_ms + this.c.recovery_timeout_ms,
      steps: [{ t_ms, strategy, attempt: 1, outcome: 'issued' }],
    };
    this.open.set(f.id, inc);
    return [{ kind: 'apply', incident: inc }];
  }

  /** The incident's fragment was replaced by another: follow the new one. */
  follow(inc: Incident, fragment: string): void {
    this.open.delete(inc.fragment);
    inc.fragment = fragment;
    this.open.set(fragment, inc);
  }

  /** A health check found the incident's fragment healthy and serving again. */
  recovered(fragment: string, t_ms: number): Incident | undefined {
    const inc = this.open.get(fragment);
    if (!inc) return undefined;
    inc.recovered_ms = t_ms;
    inc.steps.push({ t_ms, strategy: inc.strategy, attempt: inc.attempt, outcome: 'recovered' });
    this.close(inc);
    return inc;
  }

  /** Incidents past their deadline: roll back the attempt, then retry, escalate or give up. */
  expire(t_ms: number): Intent[] {
    const out: Intent[] = [];
    for (const inc of [...this.open.values()].sort((a, b) => a.id - b.id)) {
      if (t_ms < inc.deadline_ms) continue;
      inc.steps.push({ t_ms, strategy: inc.strategy, attempt: inc.attempt, outcome: 'timed_out' });
      out.push({ kind: 'rollback', incident: inc, strategy: inc.strategy });
      const ladder = LADDER[inc.symptom];
      if (inc.attempt < this.c.max_attempts) inc.attempt++;
      else if (inc.rung + 1 < ladder.length) {
        inc.rung++;
        inc.attempt = 1;
        inc.strategy = ladder[inc.rung] as Strategy;
      } else {
        inc.gave_up_ms = t_ms;
        inc.steps.push({ t_ms, strategy: inc.strategy, attempt: inc.attempt, outcome: 'gave_up' });
        this.close(inc);
        out.push({ kind: 'give_up', incident: inc });
        continue;
      }
      inc.issued_ms = t_ms;
      inc.deadline_ms = t_ms + this.c.recovery_timeout_ms;
      inc.steps.push({ t_ms, strategy: inc.strategy, attempt: inc.attempt, outcome: 'issued' });
      out.push({ kind: 'apply', incident: inc });
    }
    return out;
  }

  private close(inc: Incident): void {
    this.open.delete(inc.fragment);
    this.closed.push(inc);
    if (this.closed.length > HealthMonitor.CLOSED_KEPT) this.closed.shift();
  }

  openIncidents(): Incident[] {
    return [...this.open.values()].sort((a, b) => a.id - b.id);
  }

  closedIncidents(): readonly Incident[] {
    return this.closed;
  }
}

/** Pool health: the mean of its live fragments' scores (1 for an empty pool). */
export function poolHealth(scores: readonly number[]): number {
  return scores.length === 0 ? 1 : roundTo(scores.reduce((a, b) => a + b, 0) / scores.length, 6);
}
