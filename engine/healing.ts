/**
 * Healing: carries out what health.ts decides. Runs the periodic health check over every
 * fragment, turns incidents' strategies into state changes and commands (restart, replace, drain,
 * failover, rescale), rolls back attempts that timed out and gives up with an alert at the end of
 * the ladder.
 */
import { fragmentHealth, HealthMonitor, poolHealth, type HealthSignals, type Incident, type Intent } from './health.ts';
import type { PoolLifecycle } from './lifecycle.ts';
import { isLive, type Fragment } from './pools.ts';
import { sharedCpusFor } from './placement.ts';
import type { Command, FragmentObservation, Observation } from './types.ts';

export class Healer {
  readonly monitor: HealthMonitor;
  /** Until when a pool's rescale is in flight, so one bad spell does not grow the pool every check. */
  private readonly rescaleUntil = new Map<string, number>();

  constructor(private readonly life: PoolLifecycle) {
    this.monitor = new HealthMonitor(life.cfg.health);
  }

  /** A fragment's signals; with `out`, written into that object (the periodic check reuses one). */
  private health(f: Fragment, seen: FragmentObservation | undefined, t_ms: number, out?: HealthSignals): HealthSignals {
    const pool = this.life.pools.pool(f.profile);
    const profile = pool.cfg;
    const usable = this.life.ledger.usableCpus(f.node).length > 0;
    const s = fragmentHealth(f, seen, t_ms, profile, usable, this.life.cfg.health, pool.avg_latency_ms, out);
    // A start that never completes is a hang, unless a dead node or a reported exit explains it.
    if (
      f.state === 'starting' &&
      s.symptom !== 'node_offline' &&
      s.symptom !== 'crashed' &&
      t_ms - f.started_ms > profile.cold_start_ms + this.life.cfg.health.heartbeat_timeout_ms
    ) {
      s.score = 0;
      s.symptom = 'hung';
    }
    return s;
  }

  /**
   * The periodic check: detect, confirm recoveries, and rescale pools that are unhealthy as a
   * whole — start one extra fragment per unhealthy one, so capacity holds while each is healed.
   */
  check(obs: Observation): Command[] {
    const t = obs.t_ms;
    const threshold = this.life.cfg.health.unhealthy_below;
    const seen = seenById(obs.fragments ?? []);
    const out: Command[] = [];
    const perPool = new Map<string, { scores: number[]; bad: number }>();
    const scratch = {} as HealthSignals;
    let p: { scores: number[]; bad: number } | undefined,
      pName = '';
    for (const f of [...this.life.pools.fragments()]) {
      // Adopted processes are the operator's: re-placed by the adopter, never restarted or replaced.
      if (f.state === 'stopped' || f.adopted) continue;
      const s = this.health(f, seen(f.id), t, scratch);
      if (isLive(f)) {
        // Consecutive fragments are mostly of one pool: look its entry up only when the pool changes.
        if (p === undefined || f.profile !== pName) {
          pName = f.profile;
          p = perPool.get(f.profile);
          if (!p) perPool.set(f.profile, (p = { scores: [], bad: 0 }));
        }
        p.scores.push(s.score);
        if (s.symptom) p.bad++;
      }
      const inc = this.monitor.incidentFor(f.id);
      if (inc) {
        if ((f.state === 'warm' || f.state === 'active') && s.score >= threshold && t > inc.issued_ms)
          this.monitor.recovered(f.id, t);
      } else if (
        s.symptom &&
        (f.state !== 'starting' || s.symptom === 'hung' || s.symptom === 'node_offline' || s.symptom === 'crashed')
      ) {
        out.push(...this.run(this.monitor.detect(f, s.symptom, t)));
      }
    }
    for (const [name, p] of [...perPool].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const h = poolHealth(p.scores);
      if (p.scores.length < 2 || h >= threshold || (this.rescaleUntil.get(name) ?? -Infinity) > t) continue;
      this.rescaleUntil.set(name, t + this.life.cfg.health.recovery_timeout_ms);
      out.push(
        ...this.life.startWarm(
          this.life.pools.pool(name),
          p.bad,
          `rescale: pool ${name} health ${h} < ${threshold}, ${p.bad} fragments unhealthy`,
        ),
      );
    }
    return out;
  }

  expire(t_ms: number): Command[] {
    return this.run(this.monitor.expire(t_ms));
  }

  /** The shell reported a crash: open an incident at once rather than at the next check. */
  onCrash(f: Fragment, _reason: string, t_ms: number): Command[] {
    if (this.monitor.incidentFor(f.id)) return []; // the running strategy's deadline decides
    return this.run(this.monitor.detect(f, 'crashed', t_ms));
  }

  /** A fragment came up: if it was being healed and looks healthy, that incident is over. */
  checkRecovered(f: Fragment, obs: Observation): void {
    if (!this.monitor.incidentFor(f.id)) return;
    const s = this.health(
      f,
      obs.fragments?.find((x) => x.id === f.id),
      obs.t_ms,
    );
    if (s.score >= this.life.cfg.health.unhealthy_below) this.monitor.recovered(f.id, obs.t_ms);
  }

  /** The request a fragment was serving when it was lost, handed back for a retry. */
  orphan(f: Fragment, why: string): Command[] {
    const r = f.request;
    if (!r) return [];
    f.request = undefined;
    return [{ type: 'retry', request: r, reason: `${f.id} lost it: ${why}` }];
  }

  /**
   * A draining fragment finished its work: stop it, then start its replacement (stopping first
   * frees its place in a pool at max). With no room for a replacement, removing the slow fragment
   * is the recovery.
   */
  finishDrain(f: Fragment, t_ms: number): Command[] {
    const inc = this.monitor.incidentFor(f.id);
    const out = [this.life.stop(f, 'drain complete')];
    const more = this.life.startWarm(this.life.pools.pool(f.profile), 1, `replaces drained ${f.id}`);
    const started = more.find((c) => c.type === 'start');
    if (inc && started?.type === 'start') this.monitor.follow(inc, started.fragment);
    else if (inc) this.monitor.recovered(f.id, t_ms);
    return [...out, ...more];
  }

  private run(intents: Intent[]): Command[] {
    const out: Command[] = [];
    for (const it of intents) {
      if (it.kind === 'apply') out.push(...this.apply(it.incident));
      else if (it.kind === 'rollback') out.push(...this.rollback(it.incident, it.strategy));
      else {
        const f = this.life.pools.get(it.incident.fragment);
        if (f)
          out.push(
            ...this.orphan(f, 'recovery gave up'),
            this.life.stop(f, `recovery gave up after ${it.incident.steps.length} steps`),
          );
        out.push({
          type: 'alert',
          subject: it.incident.fragment,
          reason: `${it.incident.symptom}: every strategy failed; fragment stopped`,
        });
      }
    }
    return out;
  }

  private apply(inc: Incident): Command[] {
    const life = this.life;
    const f = life.pools.get(inc.fragment);
    const timeout_ms = life.cfg.health.recovery_timeout_ms;
    const why = `${inc.symptom} (incident ${inc.id}, ${inc.strategy} attempt ${inc.attempt})`;
    // The fragment is already gone (stopped by an earlier rung that found no room for its
    // replacement): whatever the rung, what is left to do is to start a replacement.
    if (!f) return this.replace(inc, undefined, why);
    switch (inc.strategy) {
      case 'restart': {
        const lost = this.orphan(f, 'restarted');
        if (f.state !== 'failed') life.pools.transition(f, 'failed');
        life.pools.transition(f, 'starting');
        f.started_ms = life.now;
        f.cpus = sharedCpusFor(f.node, life.pools.pool(f.profile).cfg, life.ledger);
        f.recent_ok = [];
        f.recent_latency_ms = [];
        f.recent_totals = { fails: 0, total_ms: 0 };
        return [
          ...lost,
          { type: 'restart', fragment: f.id, reason: why, timeout_ms, profile: f.profile, node: f.node, cpus: f.cpus },
        ];
      }
      case 'drain': {
        if (f.state === 'active') {
          life.pools.transition(f, 'draining');
          return [{ type: 'drain', fragment: f.id, reason: why, timeout_ms }];
        }
        if (f.state === 'warm') return this.finishDrain(f, life.now);
        return this.replace(inc, f, why);
      }
      case 'replace':
        return this.replace(inc, f, why);
      case 'failover': {
        const to = life.placeFootprint(life.pools.pool(f.profile), f.node);
        if (to === undefined) return [{ type: 'alert', subject: f.id, reason: `${why}: no other node can take it` }];
        const from = f.node;
        if (f.state === 'failed') life.pools.transition(f, 'starting');
        if (f.state === 'starting') f.started_ms = life.now; // a fresh start on the new node
        if (f.exclusive_cpus.length) {
          life.ledger.releaseExclusive(from, f.exclusive_cpus);
          f.exclusive_cpus = [];
        }
        life.pools.moveNode(f, to, sharedCpusFor(to, life.pools.pool(f.profile).cfg, life.ledger));
        return [{ type: 'migrate', fragment: f.id, from, to, cpus: f.cpus, reason: why }];
      }
    }
  }

  /**
   * Stop the sick fragment (its request goes back for a retry) and start a fresh one on the best
   * node. Stopping first frees the sick one's place, so a pool at its max can still replace.
   */
  private replace(inc: Incident, f: Fragment | undefined, why: string): Command[] {
    const life = this.life;
    const out: Command[] = [];
    if (f) out.push(...this.orphan(f, 'replaced'), life.stop(f, `replaced: ${why}`));
    const more = life.startWarm(life.pools.pool(inc.profile), 1, `replaces ${inc.fragment}: ${why}`);
    const started = more.find((c) => c.type === 'start');
    if (started?.type !== 'start')
      return [...out, { type: 'alert', subject: inc.fragment, reason: `${why}: no node has room for a replacement` }];
    this.monitor.follow(inc, started.fragment);
    return [...out, ...more];
  }

  private rollback(inc: Incident, strategy: Incident['strategy']): Command[] {
    const life = this.life;
    const f = life.pools.get(inc.fragment);
    if (!f) return [];
    if (strategy === 'drain' && f.state === 'draining') {
      // The drain did not finish in time: put the fragment back in service while escalating.
      life.pools.transition(f, f.request ? 'active' : 'warm');
      return [{ type: 'undrain', fragment: f.id, reason: `rollback: drain timed out (incident ${inc.id})` }];
    }
    if (strategy === 'replace' && inc.strategy === 'replace' && f.state === 'starting') {
      // The replacement never came up; drop it so the next attempt starts clean. (`inc` already
      // names the next strategy: when that is failover, keep the replacement for it to move.)
      return [life.stop(f, `rollback: replacement did not start in time (incident ${inc.id})`)];
    }
    return [];
  }
}

/**
 * A fragment's observation by id. The shell reports fragments in the order it started them, which
 * is the engine's own order as a rule, so the lookup walks the report in step with the engine and
 * indexes it (once) only when the two part; a check then costs no map of thousands of entries.
 */
function seenById(list: readonly FragmentObservation[]): (id: string) => FragmentObservation | undefined {
  let next = 0;
  let byId: Map<string, FragmentObservation> | undefined;
  return (id) => {
    const x = list[next];
    if (x !== undefined && x.id === id) {
      next++;
      return x;
    }
    byId ??= new Map(list.map((f) => [f.id, f]));
    return byId.get(id);
  };
}
