/**
 * The orchestrator composes pressure, admission, placement, pools, scaling and health behind a
 * small API. Shells call it with observations; it answers with decisions and commands and never
 * acts itself. Given the same config, topology, seed and call sequence it returns the same values,
 * byte for byte: all state is in this object, all randomness in its named streams.
 */
import { Adopter, type Adoption } from './adoption.ts';
import { Outages } from './cascade.ts';
import { CallContexts } from './communication.ts';
import {
  CompletionRate,
  deferFor,
  DeferralTimes,
  DeferredQueue,
  retryDelay_ms,
  RoomQueue,
  TokenBucket,
  type PressureValues,
} from './admission.ts';
import { profileOf, type Config, type Profile } from './config.ts';
import { ObservationDigester, requestDigest } from './digest.ts';
import { FragmentGraph } from './graph.ts';
import { Healer } from './healing.ts';
import { HighPriorityGuard } from './high-priority.ts';
import { pickByLatency, remoteFactor } from './latency.ts';
import { neverFits, NodeLedger, NONE_WARM, scoreNodes, selectNode, sharedCpusFor, type Demand } from './placement.ts';
import { isLive, PoolSet, type Fragment, type Pool } from './pools.ts';
import { PressureMonitor } from './pressure.ts';
import { makeStreams, type Streams } from './rng.ts';
import { Scaler, type ScalingDecision } from './scaling.ts';
import { statusOf, type Status } from './status.ts';
import type { Topology, TopologyNode } from './topology.ts';
import type { Command, Decision, NodeScore, Observation, Outcome, Prediction, Request } from './types.ts';

export interface EngineOptions {
  config: Config;
  topology: Topology;
  seed: string;
}

export class Orchestrator {
  readonly cfg: Config;
  readonly topo: Topology;
  readonly pressure: PressureMonitor;
  readonly ledger: NodeLedger;
  readonly pools: PoolSet;
  readonly healer: Healer;
  readonly adopter: Adopter;
  readonly queue: DeferredQueue;
  readonly room = new RoomQueue();
  private readonly buckets = new Map<string, TokenBucket>();
  /** Seeded random streams (jitter, shedding, retries); shared with the adopter's placements. */
  readonly streams: Streams;
  private readonly digester = new ObservationDigester();
  private readonly deferredSince = new DeferralTimes();
  private readonly completions = new CompletionRate();
  private readonly highPriority = new HighPriorityGuard();
  /** Requests let out of the room queue and not yet decided again. */
  private readonly letOut = new Set<string>();
  private seq = 0;
  private now_ms = -Infinity;
  private nextHealth_ms: number | undefined;
  /** Online CPUs changed since the last tick: shared fragments need their CPU lists redone. */
  private cpusChanged = false;
  readonly scaler: Scaler;
  /** Which profiles call which (engine/graph.ts), and whether its terms are on: enabled, and some profile calls another. */
  readonly graph: FragmentGraph;
  readonly graphOn: boolean;
  /** Pools that are down, and those that were (engine/cascade.ts). */
  readonly outages = new Outages();
  private readonly callContexts: CallContexts;
  /** Is the fragment under repair? One closure for the engine's life, not one per decision. */
  private readonly sick = (f: Fragment) => this.healer.monitor.incidentFor(f.id) !== undefined;

  constructor(o: EngineOptions) {
    this.cfg = o.config;
    this.topo = o.topology;
    this.streams = makeStreams(o.seed);
    this.pressure = new PressureMonitor(o.config.pressure);
    this.ledger = new NodeLedger(o.topology, o.config.placement.cpu_overcommit, o.config.placement.min_shared_cpus);
    this.pools = new PoolSet(o.config, this.ledger);
    this.queue = new DeferredQueue(o.config.admission.queue_limit);
    this.healer = new Healer(this);
    this.adopter = new Adopter(this);
    this.scaler = new Scaler(this);
    this.graph = FragmentGraph.of(o.config.profiles);
    this.graphOn = o.config.graph.enabled && !this.graph.empty;
    this.callContexts = new CallContexts(this.graph, this.pools, this.topo);
  }

  /** The last scaling cycle's decisions, for status and explanation. */
  get lastScaling(): ScalingDecision[] {
    return this.scaler.last;
  }

  get now(): number {
    return this.now_ms;
  }

  /** Take in an observation: pressure history, online CPUs, node measurements, the clock. */
  observe(obs: Observation): void {
    if (!Number.isFinite(obs.t_ms)) throw new Error(`observation t_ms must be a finite number, got ${obs.t_ms}`);
    this.pressure.observe(obs);
    if (this.ledger.observe(obs.online_cpus, obs.nodes)) this.cpusChanged = true;
    this.now_ms = obs.t_ms;
  }

  /** System pressure now: the monitor's own record (valid until the next observation), not a copy. */
  private values(): PressureValues {
    return this.pressure.systemValues();
  }

  /** Steps (1)–(6) of the design: pressure, shed/defer, node, pool, warm or cold, decision. */
  schedule(request: Request, obs: Observation): Decision {
    assertRequest(request);
    this.observe(obs);
    const t = obs.t_ms;
    const view = this.pressure.systemView();
    const p = this.values();
    const profile = profileOf(this.cfg, request.profile);
    // I/O intensity is the profile's property unless the request says otherwise.
    const req =
      request.io_intensive === undefined && profile.io_intensive ? { ...request, io_intensive: true } : request;
    const base = {
      seq: this.seq++,
      t_ms: t,
      request_id: req.id,
      profile: req.profile,
      pressure: view,
      inputs_digest: this.digestOf(request, obs),
    };
    const adm = this.cfg.admission;
    // A call's payload lives on its caller's node: that is its memory home when it has none of its own.
    const calls = this.graphOn ? this.callContexts.of(req) : undefined;
    const homeId = req.memory_home ?? calls?.caller?.node.id;
    // What the request's SLO leaves of its time: every wait below is bounded by it. A request is
    // entered in deferredSince only when deferred (defer()), so most decisions touch the map once.
    const poolDemand = this.scaler.demand(req.profile);
    if (!this.deferredSince.known(req.id)) poolDemand.arrival(t, homeId);
    const waited_ms = this.deferredSince.waited_ms(req.id, t);
    const budget_ms = profile.latency_slo_ms - waited_ms;

    // (2a) A request that has already outwaited its SLO can only finish late; running it now takes
    // room from requests that can still make theirs. Shed it, unless it is high priority.
    if (budget_ms <= 0 && waited_ms > 0 && req.priority < 2) {
      return this.shed(
        base,
        `waited ${waited_ms} ms, past its SLO of ${profile.latency_slo_ms} ms: shed rather than served late`,
        0,
        [],
      );
    }
    // (2b) A request that would wait on a profile that is down fails now, naming it (cascade.ts).
    const outage = this.graphOn ? this.outages.blocking(req.profile, this.graph) : undefined;
    if (outage) {
      this.outages.failedFast(outage, req.profile);
      const what = outage.profile === req.profile ? `${req.profile} is down` : `dependency ${outage.profile} is down`;
      return this.shed(
        base,
        `${what} (outage ${outage.id} since ${outage.detected_ms} ms): failed fast rather than waiting on it`,
        0,
        [],
      );
    }

    // (3) Node: what fits (scored, for the explanation), then the least expected latency among it:
    // a warm fragment far from the data against a cold start beside it, in milliseconds.
    const pool = this.pools.pool(req.profile);
    const demand: Demand = {
      profile: req.profile,
      cpus: req.cpus,
      memory_kb: req.memory_kb,
      exclusive_cpus: req.exclusive_cpus ?? profile.exclusive_cpus,
      memory_home: homeId,
      allowed_nodes: req.allowed_nodes,
    };
    const scores = this.score(demand, profile, pool);
    this.highPriority.exclude(scores, req, t, this.ledger);
    const service_ms = pool.service_ms ?? profile.service_ms;
    const home = homeId === undefined ? undefined : this.topo.byId.get(homeId);
    let chosen = pickByLatency(scores, {
      profile,
      service_ms,
      home,
      cpus: req.cpus,
      ledger: this.ledger,
      warm: pool,
      pressure: this.pressure,
      calls,
    });
    if (!chosen) {
      const never = neverFits(demand, profile, this.ledger);
      if (never)
        return this.finish(base, {
          action: 'reject',
          reason: `cannot fit on any node: ${never}`,
          confidence: 1,
          scores,
        });
      return this.defer(base, req, `insufficient resources: ${summarise(scores)}`, undefined, scores, true, budget_ms);
    }
    // Pressure deferral, only for the pressure waiting would relieve (fgo's own CPU demand beyond
    // the CPUs, memory that fills a node), for at most max_defer_ms, and only with slack: the
    // request must come back (at a tick, retry_base_ms apart at best) with its expected latency
    // still inside its SLO. Holding it longer would turn a slow request into a missed one.
    // What is relievable is never more than what is measured: below the bar, skip the per-node sums.
    const relief = deferFor(p, req, this.cfg.pressure.thresholds) ? this.relievable(p) : undefined;
    const forced = relief && deferFor(relief, req, this.cfg.pressure.thresholds);
    const bar = req.priority >= 2 ? 'critical' : 'high';
    const pressureNote = forced
      ? `${forced} pressure ${fmt(p[forced])} (${fmt((relief as Record<'cpu' | 'memory', number>)[forced])} relievable) ≥ ${bar} ${this.cfg.pressure.thresholds[forced][bar]}`
      : '';
    const slack_ms = budget_ms - (chosen.expected_ms ?? 0);
    if (forced && waited_ms < adm.max_defer_ms && slack_ms >= adm.retry_base_ms)
      return this.defer(
        base,
        req,
        pressureNote,
        (relief as Record<'cpu' | 'memory', number>)[forced],
        scores,
        false,
        slack_ms,
      );

    // (4)+(5) Pool, then a warm fragment on that node or a cold start within the pool's max. A
    // fragment under repair takes no new request: its restart would wait on it, and it on the restart.
    let warm = pool.popWarm(chosen.node, this.sick);
    const canCold = pool.size < profile.pool.max && this.pools.liveCount < this.cfg.limits.max_fragments;
    if (!warm && !canCold) {
      // Pool full: serve from a warm fragment elsewhere (best eligible node that has one), or wait.
      const alt = scores
        .filter((s) => s.eligible && pool.warmOn(s.node) > 0)
        .sort((a, b) => b.total - a.total || a.node - b.node)[0];
      if (!alt)
        return this.defer(
          base,
          req,
          `pool ${req.profile} at max size ${profile.pool.max} with no warm fragment free`,
          undefined,
          scores,
          true,
          budget_ms,
        );
      chosen = alt;
      warm = pool.popWarm(alt.node, this.sick);
    }

    // Traffic shaping: admit with a delay, or defer when the delay would be too long.
    let delay_ms = 0;
    if (profile.shaping) {
      let b = this.buckets.get(req.profile);
      if (!b)
        this.buckets.set(
          req.profile,
          (b = new TokenBucket(profile.shaping.rate_per_s, profile.shaping.burst, profile.shaping.max_delay_ms)),
        );
      const d = b.take(t);
      if (d === undefined)
        return this.defer(
          base,
          req,
          `traffic shaping: ${req.profile} over ${profile.shaping.rate_per_s}/s`,
          undefined,
          scores,
        );
      delay_ms = d;
    }

    // (6) Commit and explain.
    const commands: Command[] = [];
    const f = warm ?? this.pools.create(req.profile, chosen.node, sharedCpusFor(chosen.node, profile, this.ledger), t);
    if (warm) {
      poolDemand.reused(f.last_used_ms, t);
      this.pools.transition(f, 'active');
    }
    f.request = req;
    this.highPriority.placed(f);
    f.requests++;
    f.last_used_ms = t;
    // A warm start's execution begins after its shaping delay and warm start: measured from there.
    f.exec = warm
      ? {
          from_ms: t + delay_ms + profile.warm_start_ms,
          remote: remoteFactor(home, this.topo.byId.get(f.node) as TopologyNode, profile.memory_intensity),
        }
      : undefined;
    if (demand.exclusive_cpus > 0) {
      f.exclusive_cpus = this.ledger.takeExclusive(chosen.node, demand.exclusive_cpus, profile.cpu_affinity);
      f.cpus = f.exclusive_cpus;
      if (warm)
        commands.push({
          type: 'pin',
          fragment: f.id,
          node: f.node,
          cpus: f.cpus,
          reason: 'exclusive CPUs for the request',
        });
      commands.push(...this.repinShared(chosen.node, f.id, 'shared CPUs shrank: exclusive CPUs taken'));
    }
    this.pools.setReservation(f, demand.exclusive_cpus > 0 ? 0 : req.cpus, Math.max(profile.memory_kb, req.memory_kb));
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
    if (!warm && this.graphOn) commands.push(...this.warmDependencies(req.profile, f.node));
    poolDemand.busy(pool.count.active + pool.count.starting);
    const worst = Math.max(p.cpu, p.memory, req.io_intensive ? p.io : 0);
    const decision: Parameters<Orchestrator['finish']>[1] = {
      action: 'place',
      start: warm ? 'warm' : 'cold',
      node: f.node,
      cpus: f.cpus,
      exclusive: demand.exclusive_cpus > 0,
      fragment: f.id,
      reason: `node ${f.node}: expected ${chosen.expected_ms ?? '?'} ms; ${warm ? 'warm fragment' : `cold start (${pool.warmOn(f.node)} warm there)`}${delay_ms ? `; shaped by ${delay_ms} ms` : ''}${forced ? `; ${pressureNote}, but ${waited_ms >= adm.max_defer_ms ? `held back ${waited_ms} ms already` : 'no time to spare in its SLO'}` : ''}`,
      confidence: round4((1 - worst) * (warm ? 1 : 0.8)),
      scores,
      commands,
    };
    if (delay_ms) decision.delay_ms = delay_ms;
    return this.finish(base, decision);
  }

  /** Adopt mode: place a running process the shell found (engine/adoption.ts). */
  adopt(a: Adoption, obs: Observation): Decision {
    this.observe(obs);
    const profile = profileOf(this.cfg, a.profile);
    // The digest covers what the placement depends on, as for a request of the profile's size.
    const like: Request = {
      id: a.id,
      profile: a.profile,
      cpus: profile.cpus,
      memory_kb: profile.memory_kb,
      priority: 1,
      memory_home: a.memory_home,
      exclusive_cpus: profile.exclusive_cpus,
    };
    const base = {
      seq: this.seq++,
      t_ms: obs.t_ms,
      request_id: a.id,
      profile: a.profile,
      pressure: this.pressure.systemView(),
      inputs_digest: this.digestOf(like, obs),
    };
    return this.adopter.adopt(a, obs, (d) => this.finish(base, d));
  }

  /** Adopt mode: an adopted process is gone (exited, or no longer matches); free its place. */
  release(id: string, reason: string, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (!f.adopted) throw new Error(`fragment ${id} is not adopted: report a pool fragment's exit with failed()`);
    return [...this.adopter.release(f, reason), ...this.releaseRoom('room freed')];
  }

  /** The shell reports a fragment ready: it serves its waiting request, or joins the warm set. */
  started(id: string, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (f.state !== 'starting') throw new Error(`fragment ${id}: started while ${f.state}`);
    this.pools.transition(f, f.request ? 'active' : 'warm');
    this.healer.checkRecovered(f, obs);
    if (this.outages.isOpen(f.profile)) this.judgePool(this.pools.pool(f.profile));
    return [];
  }

  /**
   * The shell reports a fragment's request waiting on its sync calls (the fragment graph): it runs
   * nothing until their answers come, so its CPU reservation goes back to the node — a caller
   * holding CPUs its callees need would deadlock a busy host. Its memory stays booked.
   */
  calling(id: string, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (f.state !== 'active' && f.state !== 'draining') throw new Error(`fragment ${id}: calling while ${f.state}`);
    this.pools.setReservation(f, 0, f.res_mem_kb);
    return this.releaseRoom('room freed: a caller waits on its calls');
  }

  /** The shell reports a request done; the fragment goes back to warm (or finishes its drain). */
  complete(id: string, outcome: Outcome, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (f.state !== 'active' && f.state !== 'draining') throw new Error(`fragment ${id}: completion while ${f.state}`);
    const pool = this.pools.pool(f.profile);
    // A failure of a down dependency is not the fragment's: it is not held against its health.
    if (outcome.dependency !== undefined && this.graphOn) f.exec = undefined;
    else pool.recordOutcome(f, outcome, this.cfg.health.window, obs.t_ms);
    f.last_used_ms = obs.t_ms;
    f.request = undefined;
    this.completions.add(obs.t_ms);
    this.highPriority.ended(f);
    const commands: Command[] = [];
    if (f.exclusive_cpus.length) {
      this.ledger.releaseExclusive(f.node, f.exclusive_cpus);
      f.exclusive_cpus = [];
      f.cpus = sharedCpusFor(f.node, pool.cfg, this.ledger);
      commands.push(...this.repinShared(f.node, undefined, 'shared CPUs grew: exclusive CPUs released'));
    }
    if (f.state === 'draining') {
      commands.push(...this.healer.finishDrain(f, obs.t_ms));
    } else {
      this.pools.transition(f, 'warm');
      this.pools.setReservation(f, 0, pool.cfg.memory_kb);
    }
    commands.push(...this.releaseRoom('room freed'));
    if (this.outages.isOpen(f.profile)) this.judgePool(pool);
    return commands;
  }

  /** The shell reports a fragment's process died (or failed to start); its request is retried. */
  failed(id: string, reason: string, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (f.state !== 'failed') this.pools.transition(f, 'failed');
    this.highPriority.ended(f);
    const commands = [...this.healer.orphan(f, reason), ...this.healer.onCrash(f, reason, obs.t_ms)];
    if (this.graphOn) this.judgePool(this.pools.pool(f.profile));
    return commands;
  }

  /** Periodic work: release due deferrals, health checks, and the scaling cycle when due. */
  tick(obs: Observation, predictions?: readonly Prediction[]): Command[] {
    this.observe(obs);
    this.highPriority.tick(obs.t_ms, this.room.size > 0);
    const t = obs.t_ms;
    this.scaler.predicted(predictions ?? []);
    const commands: Command[] = [];
    for (const d of this.queue.popDue(t))
      commands.push({ type: 'retry', request: d.request, reason: `deferral due at ${d.due_ms} ms` });
    commands.push(...this.releaseRoom('periodic retry'));
    if (this.cpusChanged) {
      this.cpusChanged = false;
      commands.push(...this.repinAll('online CPUs changed'));
    }
    if (this.nextHealth_ms === undefined || t >= this.nextHealth_ms) {
      this.nextHealth_ms = t + this.cfg.health.interval_ms;
      commands.push(...this.healer.check(obs));
      if (this.graphOn) for (const pool of this.pools.pools.values()) this.judgePool(pool);
    }
    commands.push(...this.healer.expire(t));
    if (this.scaler.due(t))
      commands.push(
        ...this.scaler.cycle(t, { ...this.relievable(this.values()), io: 0 }),
        ...this.adopter.rebalance(t),
      );
    return commands;
  }

  /**
   * Start `n` warm fragments of a pool, each on the best node for its footprint — first where the
   * pool has fewer than `want` says the node should hold (the data on it), most missing first.
   */
  startWarm(pool: Pool, n: number, reason: string, avoid?: number, want?: ReadonlyMap<number, number>): Command[] {
    const out: Command[] = [];
    for (
      let i = 0;
      i < n && pool.size < pool.cfg.pool.max && this.pools.liveCount < this.cfg.limits.max_fragments;
      i++
    ) {
      const node = this.placeFootprint(pool, avoid, want);
      if (node === undefined) break;
      const f = this.pools.create(pool.profile, node, sharedCpusFor(node, pool.cfg, this.ledger), this.now_ms);
      out.push({
        type: 'start',
        fragment: f.id,
        profile: pool.profile,
        node,
        cpus: f.cpus,
        memory_kb: f.res_mem_kb,
        reason,
      });
    }
    return out;
  }

  /**
   * Node for a new idle fragment of the pool (its memory, no CPU demand): among the nodes that fit,
   * those holding the fewest of the pool's live fragments, then the best score. Spreading a pool
   * across nodes keeps a warm fragment near every memory home, so a request need not choose
   * between a warm start far from its data and a cold start beside it. A pool with preferred
   * nodes spreads over those when they fit.
   */
  placeFootprint(pool: Pool, avoid?: number, want?: ReadonlyMap<number, number>): number | undefined {
    const allowed = avoid === undefined ? undefined : this.topo.nodes.map((n) => n.id).filter((id) => id !== avoid);
    const demand: Demand = {
      profile: pool.profile,
      cpus: 0,
      memory_kb: pool.cfg.memory_kb,
      exclusive_cpus: 0,
      allowed_nodes: allowed,
    };
    const scores = this.score(demand, pool.cfg, pool, true);
    const preferred = pool.cfg.preferred_nodes;
    let pick = scores.filter((s) => s.eligible);
    const missing = (node: number) => (want?.get(node) ?? 0) - pool.liveOn(node);
    const most = Math.max(0, ...pick.map((s) => missing(s.node)));
    if (most > 0) pick = pick.filter((s) => missing(s.node) === most);
    else if (preferred.length && pick.some((s) => preferred.includes(s.node)))
      pick = pick.filter((s) => preferred.includes(s.node));
    const fewest = Math.min(...pick.map((s) => pool.liveOn(s.node)));
    return selectNode(
      pick.filter((s) => pool.liveOn(s.node) === fewest),
      this.cfg.placement,
      this.streams,
    )?.node;
  }

  /**
   * Start order (the fragment graph): a caller cold-starting on `node` gets one warm fragment of
   * each sync dependency that has none warm or starting, started now beside it, so its first calls
   * do not each wait for a cold start in turn.
   */
  private warmDependencies(profile: string, node: number): Command[] {
    const out: Command[] = [];
    for (const d of this.graph.syncDependencies(profile)) {
      const pool = this.pools.pool(d);
      if (pool.count.warm + pool.count.starting === 0)
        out.push(
          ...this.startWarm(
            pool,
            1,
            `start order: ${d} warmed before ${profile}'s first call`,
            undefined,
            new Map([[node, 1]]),
          ),
        );
    }
    return out;
  }

  /** Is a pool down, or back up? (cascade.ts) */
  private judgePool(pool: Pool): void {
    this.outages.update(pool, this.sick, this.now_ms);
  }

  stop(f: Fragment, reason: string): Command {
    this.pools.transition(f, 'stopped');
    return { type: 'stop', fragment: f.id, reason };
  }

  private score(d: Demand, profile: Profile, pool: Pool, coldOnly = false): NodeScore[] {
    return scoreNodes(d, {
      cfg: this.cfg.placement,
      profile,
      ledger: this.ledger,
      warm: coldOnly ? NONE_WARM : pool,
      pressure: this.pressure,
    });
  }

  /** Re-pin every shared fragment whose CPU list no longer matches its node's shared CPUs. */
  private repinAll(reason: string): Command[] {
    const out: Command[] = [];
    for (const f of this.pools.fragments()) {
      if (f.exclusive_cpus.length || !isLive(f)) continue;
      const cpus = sharedCpusFor(f.node, this.pools.pool(f.profile).cfg, this.ledger);
      // A node with no CPU left is the health check's to fail over, not something to pin to.
      if (cpus.length === 0 || (cpus.length === f.cpus.length && cpus.every((c, i) => c === f.cpus[i]))) continue;
      f.cpus = cpus;
      out.push({ type: 'pin', fragment: f.id, node: f.node, cpus, reason });
    }
    return out;
  }

  /** Re-pin the shared fragments of a node after its shared CPU set changed. */
  repinShared(node: number, except: string | undefined, reason: string): Command[] {
    const out: Command[] = [];
    for (const f of this.pools.fragments()) {
      if (f.node !== node || f.id === except || f.exclusive_cpus.length || !isLive(f)) continue;
      f.cpus = sharedCpusFor(node, this.pools.pool(f.profile).cfg, this.ledger);
      out.push({ type: 'pin', fragment: f.id, node, cpus: f.cpus, reason });
    }
    return out;
  }

  /**
   * Hold a request back. For pressure or shaping it returns after a timed delay; when it waits for
   * room (`forRoom`: nothing fits, or its pool is full) it joins the room queue, highest priority
   * first, and is let out as room frees — one per completion, plus one per tick. A request below
   * high priority expected to wait for room twice what its SLO leaves is shed at once, with the
   * expected wait as its retry-after: early and cheap, instead of waiting only to miss.
   */
  private defer(
    base: DecisionBase,
    req: Request,
    reason: string,
    p: number | undefined,
    scores: NodeScore[],
    forRoom = false,
    budget_ms = Infinity,
  ): Decision {
    const adm = this.cfg.admission;
    // Its wait counts from its first scheduling (now, unless it was deferred before); finish()
    // forgets it again unless it ends deferred.
    this.deferredSince.seen(req.id, base.t_ms);
    if (forRoom) {
      if (this.room.size >= adm.queue_limit && req.priority < 2)
        return this.shed(base, `room queue full (${adm.queue_limit}): ${reason}`, 0, scores);
      const wait_ms = this.roomWait_ms(req.priority, base.t_ms);
      // Twice the budget: the estimate is of an average, and shedding a request that would have
      // made it is a certain miss where waiting was only a likely one.
      if (req.priority < 2 && wait_ms > 2 * budget_ms) {
        return this.finish(base, {
          action: 'shed',
          reason: `overloaded: ${reason}; ~${Math.round(wait_ms)} ms until room, ${Math.max(0, Math.round(budget_ms))} ms left of its SLO`,
          retry_after_ms: Math.max(1, Math.round(wait_ms)),
          confidence: 1,
          scores,
        });
      }
      // One let out to try again that must wait once more keeps its turn at the head of the queue.
      if (this.letOut.delete(req.id)) this.room.pushFront(req);
      else this.room.push(req);
      return this.finish(base, {
        action: 'defer',
        reason,
        retry_after_ms: adm.insufficient_retry_ms,
        confidence: 1,
        scores,
      });
    }
    // Back no later than the SLO budget runs out: the request is then admitted (or shed if past it).
    const retry = Math.max(
      1,
      Math.min(
        budget_ms,
        p === undefined ? adm.insufficient_retry_ms : retryDelay_ms(p, adm, this.streams.next('retry')),
      ),
    );
    const q = this.queue.push(req, base.t_ms + retry);
    if (!q.queued) return this.shed(base, `deferred queue full (${this.queue.limit}): ${reason}`, p ?? 0, scores);
    if (q.evicted) this.deferredSince.forget(q.evicted.id);
    const commands: Command[] = q.evicted
      ? [{ type: 'shed', request_id: q.evicted.id, reason: `evicted from the full deferred queue by ${req.id}` }]
      : [];
    return this.finish(base, {
      action: 'defer',
      reason,
      retry_after_ms: retry,
      confidence: round4(1 - (p ?? 0)),
      scores,
      commands,
    });
  }

  private shed(base: DecisionBase, reason: string, p: number, scores: NodeScore[]): Decision {
    const retry = retryDelay_ms(p, this.cfg.admission, this.streams.next('retry'));
    return this.finish(base, { action: 'shed', reason, retry_after_ms: retry, confidence: round4(1 - p), scores });
  }

  /**
   * How long a request of this priority joining the room queue now would wait: the requests let out
   * before it, at the rate room frees — the faster of what completions did over the last 10 s and
   * what the requests running now will do (each pool's active requests ÷ its measured service time,
   * Little's law), since at the start of a burst the first lags. Only measurements count: unknown
   * (0, so nobody is shed on a guess) until something has completed.
   */
  private roomWait_ms(priority: number, t_ms: number): number {
    let running_per_s = 0;
    for (const pool of this.pools.pools.values())
      if (pool.count.active && pool.service_ms !== undefined)
        running_per_s += (pool.count.active * 1000) / pool.service_ms;
    const rate = Math.max(this.completions.perSecond(t_ms), running_per_s);
    return rate > 0 ? ((this.room.aheadOf(priority) + 1) / rate) * 1000 : 0;
  }

  /**
   * The part of the measured pressure that holding requests back would relieve. CPU: the stall
   * fgo's own reserved demand makes by itself on the CPUs it can use (the kernel's balanced rule,
   * (demand − CPUs) ÷ CPUs); a neighbour's stall is no reason to wait, it is a reason to place
   * elsewhere. Memory: all of it while some node is full (its free memory under 2 % of capacity),
   * since admissions fill nodes and completions empty them; none while every node has room (the
   * stall is then someone else's). Without per-node memory measurements, all of it.
   */
  private relievable(p: PressureValues): Record<'cpu' | 'memory', number> {
    let demand = 0,
      cpus = 0,
      full = false,
      measured = false;
    for (const n of this.topo.nodes) {
      const usable = this.ledger.usableCpus(n.id).length;
      cpus += usable;
      demand += this.ledger.reservedCpu(n.id) + this.ledger.exclusiveCpus(n.id).size;
      const free = this.ledger.observedMemFree_kb(n.id);
      if (free !== undefined && n.memory_kb > 0) {
        measured = true;
        if (free < 0.02 * n.memory_kb) full = true;
      }
    }
    const own = cpus > 0 ? Math.min(1, Math.max(0, (demand - cpus) / cpus)) : 0;
    return { cpu: Math.min(p.cpu, own), memory: !measured || full ? p.memory : 0 };
  }

  /** Let the longest-waiting request for room try again. */
  private releaseRoom(reason: string): Command[] {
    const request = this.room.next();
    if (!request) return [];
    this.letOut.add(request.id);
    return [{ type: 'retry', request, reason }];
  }

  /** Assemble a decision with its keys in one fixed order, so journals read (and diff) alike. */
  private finish(
    base: DecisionBase,
    d: Partial<Decision> & Pick<Decision, 'action' | 'reason' | 'confidence'>,
  ): Decision {
    if (d.action !== 'defer') {
      this.deferredSince.forget(base.request_id);
      this.letOut.delete(base.request_id);
    }
    const out: Decision = {
      seq: base.seq,
      t_ms: base.t_ms,
      request_id: base.request_id,
      profile: base.profile,
      action: d.action,
    } as Decision;
    if (d.start !== undefined) out.start = d.start;
    if (d.node !== undefined) out.node = d.node;
    if (d.cpus !== undefined) out.cpus = d.cpus;
    if (d.exclusive !== undefined) out.exclusive = d.exclusive;
    if (d.fragment !== undefined) out.fragment = d.fragment;
    if (d.delay_ms !== undefined) out.delay_ms = d.delay_ms;
    if (d.retry_after_ms !== undefined) out.retry_after_ms = d.retry_after_ms;
    out.reason = d.reason;
    out.confidence = d.confidence;
    out.pressure = base.pressure;
    out.scores = d.scores ?? [];
    out.inputs_digest = base.inputs_digest;
    out.commands = d.commands ?? [];
    return out;
  }

  private digestOf(req: Request, obs: Observation): string {
    return requestDigest(req, this.digester.digest(obs));
  }

  mustGet(id: string): Fragment {
    const f = this.pools.get(id);
    if (!f) throw new Error(`unknown fragment ${id}`);
    return f;
  }

  incidents() {
    return { open: this.healer.monitor.openIncidents(), closed: this.healer.monitor.closedIncidents() };
  }

  /** Outages of whole pools, each with its root cause (cascade.ts); undefined with the graph's terms off. */
  outageList() {
    return this.graphOn ? this.outages.list() : undefined;
  }

  /** A snapshot for status endpoints and reports (see status.ts). */
  status(): Status {
    return statusOf(this);
  }
}

type DecisionBase = Pick<Decision, 'seq' | 't_ms' | 'request_id' | 'profile' | 'pressure' | 'inputs_digest'>;

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const fmt = (x: number) => String(Math.round(x * 1000) / 1000);

function summarise(scores: readonly NodeScore[]): string {
  return scores
    .filter((s) => !s.eligible)
    .map((s) => `node ${s.node}: ${s.excluded}`)
    .join('; ');
}

/** Cheap structural checks on the hot path; shells validate input fully with engine/schemas.ts. */
function assertRequest(r: Request): void {
  if (typeof r.id !== 'string' || r.id === '') throw new Error('request: id must be a non-empty string');
  if (!(Number.isFinite(r.cpus) && r.cpus >= 0)) throw new Error(`request ${r.id}: cpus must be ≥ 0`);
  if (!(Number.isInteger(r.memory_kb) && r.memory_kb >= 0))
    throw new Error(`request ${r.id}: memory_kb must be an integer ≥ 0`);
  if (!(Number.isInteger(r.priority) && r.priority >= 0 && r.priority <= 3))
    throw new Error(`request ${r.id}: priority must be 0–3`);
  if (r.exclusive_cpus !== undefined && !(Number.isInteger(r.exclusive_cpus) && r.exclusive_cpus >= 0))
    throw new Error(`request ${r.id}: exclusive_cpus must be an integer ≥ 0`);
}
