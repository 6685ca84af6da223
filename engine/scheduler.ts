/**
 * Scheduling one request, steps (1)–(6) of docs/engine.md: pressure, shed or defer, node, pool,
 * warm or cold, decision. Each step either decides (shed, reject, defer) or hands the next step
 * what it chose; only the last one changes pools and nodes.
 */
import { deferFor, TokenBucket, type PressureValues } from './admission.ts';
import { CallContexts, type CallContext } from './communication.ts';
import { profileOf, type Profile } from './config.ts';
import { summariseExclusions, type DecisionBase, type DecisionDraft } from './decision.ts';
import { ObservationDigester, requestDigest } from './digest.ts';
import type { Outages } from './cascade.ts';
import type { FragmentGraph } from './graph.ts';
import { HighPriorityGuard } from './high-priority.ts';
import type { Holdback } from './holdback.ts';
import { pickByLatency, remoteFactor } from './latency.ts';
import type { PoolLifecycle } from './lifecycle.ts';
import { neverFits, sharedCpusFor, type Demand } from './placement.ts';
import type { Fragment, Pool } from './pools.ts';
import { figure, roundTo } from './round.ts';
import type { Topology, TopologyNode } from './topology.ts';
import type { Command, Decision, NodeScore, Observation, Request } from './types.ts';
import type { PoolDemand } from './warmth.ts';

/** What the scheduler reads of the rest of the engine. */
export interface SchedulerParts {
  life: PoolLifecycle;
  hold: Holdback;
  /** The fragment graph while its terms are on, else undefined. */
  graph: FragmentGraph | undefined;
  outages: Outages;
  /** A pool's measured demand (the scaler's), told of each new arrival and each warm reuse. */
  demandOf: (profile: string) => PoolDemand;
  /** Is the fragment under repair? It then takes no new request. */
  sick: (f: Fragment) => boolean;
}

/** One request being scheduled: what every step reads. */
interface Attempt {
  base: DecisionBase;
  req: Request;
  profile: Profile;
  p: PressureValues;
  waited_ms: number;
  /** What the request's SLO leaves of its time: every wait is bounded by it. */
  budget_ms: number;
  homeId: number | undefined;
  calls: CallContext | undefined;
  poolDemand: PoolDemand;
}

/** Where the request will run, and what the explanation says of it. */
interface Placement {
  pool: Pool;
  demand: Demand;
  scores: NodeScore[];
  home: TopologyNode | undefined;
  chosen: NodeScore;
  warm: Fragment | undefined;
  /** Pressure that asked for deferral, and its note, when the request goes ahead anyway. */
  forced: 'cpu' | 'memory' | undefined;
  pressureNote: string;
  delay_ms: number;
}

export class Scheduler {
  readonly highPriority = new HighPriorityGuard();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly digester = new ObservationDigester();
  private readonly callContexts: CallContexts | undefined;
  private readonly topo: Topology;
  private seq = 0;

  constructor(private readonly parts: SchedulerParts) {
    this.topo = parts.life.topo;
    this.callContexts = parts.graph && new CallContexts(parts.graph, parts.life.pools, this.topo);
  }

  /** The fixed part of a decision about `req` (its digest covers what the decision depends on). */
  base(req: Request, obs: Observation, pressure: Decision['pressure']): DecisionBase {
    return {
      seq: this.seq++,
      t_ms: obs.t_ms,
      request_id: req.id,
      profile: req.profile,
      pressure,
      inputs_digest: requestDigest(req, this.digester.digest(obs)),
    };
  }

  /** Decide a request; the observation is already taken in. */
  schedule(request: Request, obs: Observation): Decision {
    const a = this.attempt(request, obs);
    return this.refuseLate(a) ?? this.place(a);
  }

  private attempt(request: Request, obs: Observation): Attempt {
    const { life, hold } = this.parts;
    const t = obs.t_ms;
    const view = life.pressure.systemView();
    const p = life.pressure.systemValues();
    const profile = profileOf(life.cfg, request.profile);
    // I/O intensity is the profile's property unless the request says otherwise.
    const req =
      request.io_intensive === undefined && profile.io_intensive ? { ...request, io_intensive: true } : request;
    const base = this.base(request, obs, view);
    // A call's payload lives on its caller's node: that is its memory home when it has none of its own.
    const calls = this.callContexts?.of(req);
    const homeId = req.memory_home ?? calls?.caller?.node.id;
    // A request is entered in deferredSince only when deferred, so most decisions touch the map once.
    const poolDemand = this.parts.demandOf(req.profile);
    if (!hold.deferredSince.known(req.id)) poolDemand.arrival(t, homeId);
    const waited_ms = hold.deferredSince.waited_ms(req.id, t);
    const budget_ms = profile.latency_slo_ms - waited_ms;
    return { base, req, profile, p, waited_ms, budget_ms, homeId, calls, poolDemand };
  }

  /**
   * (2a) A request that has already outwaited its SLO can only finish late; running it now takes
   * room from requests that can still make theirs: shed, unless it is high priority. (2b) A
   * request that would wait on a profile that is down fails now, naming it (cascade.ts).
   */
  private refuseLate(a: Attempt): Decision | undefined {
    const { req, base, waited_ms } = a;
    const { hold, outages, graph } = this.parts;
    if (a.budget_ms <= 0 && waited_ms > 0 && req.priority < 2) {
      const slo = a.profile.latency_slo_ms;
      return hold.shed(base, `waited ${waited_ms} ms, past its SLO of ${slo} ms: shed rather than served late`, 0, []);
    }
    const outage = graph ? outages.blocking(req.profile, graph) : undefined;
    if (!outage) return undefined;
    outages.failedFast(outage, req.profile);
    const what = outage.profile === req.profile ? `${req.profile} is down` : `dependency ${outage.profile} is down`;
    return hold.shed(
      base,
      `${what} (outage ${outage.id} since ${outage.detected_ms} ms): failed fast rather than waiting on it`,
      0,
      [],
    );
  }

  /** Steps (3)–(6): node, pressure, fragment, shaping, then commit — or the decision that stops it. */
  private place(a: Attempt): Decision {
    const { req, profile, base } = a;
    const { life, hold } = this.parts;
    const pool = life.pools.pool(req.profile);
    const demand: Demand = {
      profile: req.profile,
      cpus: req.cpus,
      memory_kb: req.memory_kb,
      exclusive_cpus: req.exclusive_cpus ?? profile.exclusive_cpus,
      memory_home: a.homeId,
      allowed_nodes: req.allowed_nodes,
    };
    const scores = life.score(demand, profile, pool);
    this.highPriority.exclude(scores, req, base.t_ms, life.ledger);
    const home = a.homeId === undefined ? undefined : this.topo.byId.get(a.homeId);
    const chosen = this.pickNode(a, pool, scores, home);
    if (!chosen) {
      const never = neverFits(demand, profile, life.ledger);
      if (never)
        return hold.finish(base, {
          action: 'reject',
          reason: `cannot fit on any node: ${never}`,
          confidence: 1,
          scores,
        });
      const why = `insufficient resources: ${summariseExclusions(scores)}`;
      return hold.defer(base, req, why, undefined, scores, true, a.budget_ms);
    }
    const held = this.pressureHold(a, chosen, scores);
    if ('action' in held) return held;
    const at: Placement = { pool, demand, scores, home, chosen, warm: undefined, ...held, delay_ms: 0 };
    return this.takeFragment(a, at) ?? this.shape(a, at) ?? this.commit(a, at);
  }

  /**
   * (3) The least expected latency among the nodes that fit: a warm fragment far from the data
   * against a cold start beside it, in milliseconds.
   */
  private pickNode(a: Attempt, pool: Pool, scores: NodeScore[], home: TopologyNode | undefined): NodeScore | undefined {
    const { life } = this.parts;
    return pickByLatency(scores, {
      profile: a.profile,
      service_ms: pool.service_ms ?? a.profile.service_ms,
      home,
      cpus: a.req.cpus,
      ledger: life.ledger,
      warm: pool,
      pressure: life.pressure,
      calls: a.calls,
    });
  }

  /**
   * Pressure deferral, only for the pressure waiting would relieve (fgo's own CPU demand beyond
   * the CPUs, memory that fills a node), for at most max_defer_ms, and only with slack: the
   * request must come back (at a tick, retry_base_ms apart at best) with its expected latency
   * still inside its SLO. Holding it longer would turn a slow request into a missed one. What is
   * relievable is never more than what is measured: below the bar, skip the per-node sums.
   */
  private pressureHold(
    a: Attempt,
    chosen: NodeScore,
    scores: NodeScore[],
  ): Decision | Pick<Placement, 'forced' | 'pressureNote'> {
    const { life, hold } = this.parts;
    const { p, req } = a;
    const thresholds = life.cfg.pressure.thresholds;
    const adm = life.cfg.admission;
    const relief = deferFor(p, req, thresholds) ? life.relievable(p) : undefined;
    const forced = relief && deferFor(relief, req, thresholds);
    const bar = req.priority >= 2 ? 'critical' : 'high';
    const relievable = forced && (relief as Record<'cpu' | 'memory', number>)[forced];
    const pressureNote = forced
      ? `${forced} pressure ${figure(p[forced])} (${figure(relievable as number)} relievable) ≥ ${bar} ` +
        `${thresholds[forced][bar]}`
      : '';
    const slack_ms = a.budget_ms - (chosen.expected_ms ?? 0);
    if (forced && a.waited_ms < adm.max_defer_ms && slack_ms >= adm.retry_base_ms)
      return hold.defer(a.base, req, pressureNote, relievable as number, scores, false, slack_ms);
    return { forced, pressureNote };
  }

  /**
   * (4)+(5) Pool, then a warm fragment on the chosen node or a cold start within the pool's max. A
   * fragment under repair takes no new request: its restart would wait on it, and it on the
   * restart. With the pool full, a warm fragment elsewhere (the best eligible node with one), or wait.
   */
  private takeFragment(a: Attempt, at: Placement): Decision | undefined {
    const { life, hold, sick } = this.parts;
    const { pool, scores } = at;
    at.warm = pool.popWarm(at.chosen.node, sick);
    const canCold = pool.size < a.profile.pool.max && life.pools.liveCount < life.cfg.limits.max_fragments;
    if (at.warm || canCold) return undefined;
    const alt = scores
      .filter((s) => s.eligible && pool.warmOn(s.node) > 0)
      .sort((x, y) => y.total - x.total || x.node - y.node)[0];
    if (!alt) {
      const why = `pool ${a.req.profile} at max size ${a.profile.pool.max} with no warm fragment free`;
      return hold.defer(a.base, a.req, why, undefined, scores, true, a.budget_ms);
    }
    at.chosen = alt;
    at.warm = pool.popWarm(alt.node, sick);
    return undefined;
  }

  /** Traffic shaping: admit with a delay, or defer when the delay would be too long. */
  private shape(a: Attempt, at: Placement): Decision | undefined {
    const shaping = a.profile.shaping;
    if (!shaping) return undefined;
    const name = a.req.profile;
    let b = this.buckets.get(name);
    if (!b) this.buckets.set(name, (b = new TokenBucket(shaping.rate_per_s, shaping.burst, shaping.max_delay_ms)));
    const d = b.take(a.base.t_ms);
    if (d === undefined)
      return this.parts.hold.defer(
        a.base,
        a.req,
        `traffic shaping: ${name} over ${shaping.rate_per_s}/s`,
        undefined,
        at.scores,
      );
    at.delay_ms = d;
    return undefined;
  }

  /** (6) Commit: the fragment takes the request, the node its reservation; then explain. */
  private commit(a: Attempt, at: Placement): Decision {
    const { life, graph } = this.parts;
    const { req, profile } = a;
    const t = a.base.t_ms;
    const { warm, pool, chosen, delay_ms } = at;
    const exclusive = at.demand.exclusive_cpus;
    const commands: Command[] = [];
    const f = warm ?? life.pools.create(req.profile, chosen.node, sharedCpusFor(chosen.node, profile, life.ledger), t);
    if (warm) {
      a.poolDemand.reused(f.last_used_ms, t);
      life.pools.transition(f, 'active');
    }
    f.request = req;
    this.highPriority.placed(f);
    f.requests++;
    f.last_used_ms = t;
    // A warm start's execution begins after its shaping delay and warm start: measured from there.
    f.exec = warm
      ? {
          from_ms: t + delay_ms + profile.warm_start_ms,
          remote: remoteFactor(at.home, this.topo.byId.get(f.node) as TopologyNode, profile.memory_intensity),
        }
      : undefined;
    if (exclusive > 0) {
      f.exclusive_cpus = life.ledger.takeExclusive(chosen.node, exclusive, profile.cpu_affinity);
      f.cpus = f.exclusive_cpus;
      if (warm)
        commands.push({
          type: 'pin',
          fragment: f.id,
          node: f.node,
          cpus: f.cpus,
          reason: 'exclusive CPUs for the request',
        });
      commands.push(...life.repinShared(chosen.node, f.id, 'shared CPUs shrank: exclusive CPUs taken'));
    }
    life.pools.setReservation(f, exclusive > 0 ? 0 : req.cpus, Math.max(profile.memory_kb, req.memory_kb));
    if (!warm)
      commands.push({
        type: 'start',
        fragment: f.id,
        profile: req.profile,
        node: f.node,
        cpus: f.cpus,
        memory_kb: f.res_mem_kb,
        reason: `cold start for ${req.id}`,
      });
    if (!warm && graph) commands.push(...life.warmDependencies(graph, req.profile, f.node));
    a.poolDemand.busy(pool.count.active + pool.count.starting);
    return this.parts.hold.finish(a.base, this.explainPlacement(a, at, f, commands));
  }

  private explainPlacement(a: Attempt, at: Placement, f: Fragment, commands: Command[]): DecisionDraft {
    const { p, req, waited_ms } = a;
    const { warm, delay_ms, forced } = at;
    const worst = Math.max(p.cpu, p.memory, req.io_intensive ? p.io : 0);
    const start = warm ? 'warm fragment' : `cold start (${at.pool.warmOn(f.node)} warm there)`;
    const shaped = delay_ms ? `; shaped by ${delay_ms} ms` : '';
    const held =
      waited_ms >= this.parts.life.cfg.admission.max_defer_ms
        ? `held back ${waited_ms} ms already`
        : 'no time to spare in its SLO';
    const pressed = forced ? `; ${at.pressureNote}, but ${held}` : '';
    const decision: DecisionDraft = {
      action: 'place',
      start: warm ? 'warm' : 'cold',
      node: f.node,
      cpus: f.cpus,
      exclusive: at.demand.exclusive_cpus > 0,
      fragment: f.id,
      reason: `node ${f.node}: expected ${at.chosen.expected_ms ?? '?'} ms; ${start}${shaped}${pressed}`,
      confidence: roundTo((1 - worst) * (warm ? 1 : 0.8), 4),
      scores: at.scores,
      commands,
    };
    if (delay_ms) decision.delay_ms = delay_ms;
    return decision;
  }
}
