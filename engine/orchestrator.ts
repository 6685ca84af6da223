/**
 * The orchestrator composes pressure, admission, placement, pools, scaling and health behind a
 * small API. Shells call it with observations; it answers with decisions and commands and never
 * acts itself. Given the same config, topology, seed and call sequence it returns the same values,
 * byte for byte: all state is in its parts, all randomness in their named streams.
 *
 * The parts: the pool lifecycle (lifecycle.ts: pools, nodes, pressure, clock, streams), the
 * scheduler (scheduler.ts) and the requests it holds back (holdback.ts), healing, scaling and
 * adoption; each receives the parts it uses, none the orchestrator.
 */
import { Adopter, type Adoption } from './adoption.ts';
import { Outages } from './cascade.ts';
import { profileOf, type Config } from './config.ts';
import { FragmentGraph } from './graph.ts';
import { Healer } from './healing.ts';
import { Holdback } from './holdback.ts';
import { PoolLifecycle } from './lifecycle.ts';
import { sharedCpusFor, type NodeLedger } from './placement.ts';
import type { Fragment, Pool, PoolSet } from './pools.ts';
import type { PressureMonitor } from './pressure.ts';
import type { Streams } from './rng.ts';
import type { EnginePort } from './port.ts';
import { Scaler, type ScalingDecision } from './scaling.ts';
import { assertRequest } from './decision.ts';
import { Scheduler } from './scheduler.ts';
import { statusOf, type Status } from './status.ts';
import type { Topology } from './topology.ts';
import type { Command, Decision, Observation, Outcome, Prediction, Request } from './types.ts';

export interface EngineOptions {
  config: Config;
  topology: Topology;
  seed: string;
}

export class Orchestrator implements EnginePort {
  readonly cfg: Config;
  readonly topo: Topology;
  /** Pools, nodes, pressure, clock and streams, and what starts, stops and re-pins fragments. */
  readonly life: PoolLifecycle;
  readonly healer: Healer;
  readonly adopter: Adopter;
  readonly scaler: Scaler;
  private readonly hold: Holdback;
  private readonly scheduler: Scheduler;
  private nextHealth_ms: number | undefined;
  /** Online CPUs changed since the last tick: shared fragments need their CPU lists redone. */
  private cpusChanged = false;
  /** Which profiles call which (engine/graph.ts); its terms are on when enabled and some profile calls another. */
  readonly graph: FragmentGraph;
  readonly graphOn: boolean;
  /** Pools that are down, and those that were (engine/cascade.ts). */
  readonly outages = new Outages();
  /** Is the fragment under repair? One closure for the engine's life, not one per decision. */
  private readonly sick = (f: Fragment) => this.healer.monitor.incidentFor(f.id) !== undefined;

  constructor(options: EngineOptions) {
    this.cfg = options.config;
    this.topo = options.topology;
    this.life = new PoolLifecycle(options.config, options.topology, options.seed);
    this.hold = new Holdback(this.life);
    this.healer = new Healer(this.life);
    this.adopter = new Adopter(this.life);
    this.graph = FragmentGraph.of(options.config.profiles);
    this.graphOn = options.config.graph.enabled && !this.graph.empty;
    const graph = this.graphOn ? this.graph : undefined;
    this.scaler = new Scaler(this.life, graph, this.sick);
    this.scheduler = new Scheduler({
      life: this.life,
      hold: this.hold,
      graph,
      outages: this.outages,
      demandOf: (profile) => this.scaler.demand(profile),
      sick: this.sick,
    });
  }

  get pressure(): PressureMonitor {
    return this.life.pressure;
  }

  get ledger(): NodeLedger {
    return this.life.ledger;
  }

  get pools(): PoolSet {
    return this.life.pools;
  }

  get streams(): Streams {
    return this.life.streams;
  }

  /** The last scaling cycle's decisions, for status and explanation. */
  get lastScaling(): ScalingDecision[] {
    return this.scaler.last;
  }

  get now(): number {
    return this.life.now;
  }

  /** Take in an observation: pressure history, online CPUs, node measurements, the clock. */
  observe(obs: Observation): void {
    if (this.life.observe(obs)) this.cpusChanged = true;
  }

  /** Steps (1)–(6) of the design: pressure, shed/defer, node, pool, warm or cold, decision (scheduler.ts). */
  schedule(request: Request, obs: Observation): Decision {
    assertRequest(request);
    this.observe(obs);
    return this.scheduler.schedule(request, obs);
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
    const base = this.scheduler.base(like, obs, this.pressure.systemView());
    return this.adopter.adopt(a, obs, (d) => this.hold.finish(base, d));
  }

  /** Adopt mode: an adopted process is gone (exited, or no longer matches); free its place. */
  release(id: string, reason: string, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (!f.adopted) throw new Error(`fragment ${id} is not adopted: report a pool fragment's exit with failed()`);
    return [...this.adopter.release(f, reason), ...this.hold.releaseRoom('room freed')];
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
    return this.hold.releaseRoom('room freed: a caller waits on its calls');
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
    this.hold.completions.add(obs.t_ms);
    this.scheduler.highPriority.ended(f);
    const commands: Command[] = [];
    if (f.exclusive_cpus.length) {
      this.ledger.releaseExclusive(f.node, f.exclusive_cpus);
      f.exclusive_cpus = [];
      f.cpus = sharedCpusFor(f.node, pool.cfg, this.ledger);
      commands.push(...this.life.repinShared(f.node, undefined, 'shared CPUs grew: exclusive CPUs released'));
    }
    if (f.state === 'draining') {
      commands.push(...this.healer.finishDrain(f, obs.t_ms));
    } else {
      this.pools.transition(f, 'warm');
      this.pools.setReservation(f, 0, pool.cfg.memory_kb);
    }
    commands.push(...this.hold.releaseRoom('room freed'));
    if (this.outages.isOpen(f.profile)) this.judgePool(pool);
    return commands;
  }

  /** The shell reports a fragment's process died (or failed to start); its request is retried. */
  failed(id: string, reason: string, obs: Observation): Command[] {
    this.observe(obs);
    const f = this.mustGet(id);
    if (f.state !== 'failed') this.pools.transition(f, 'failed');
    this.scheduler.highPriority.ended(f);
    const commands = [...this.healer.orphan(f, reason), ...this.healer.onCrash(f, reason, obs.t_ms)];
    if (this.graphOn) this.judgePool(this.pools.pool(f.profile));
    return commands;
  }

  /** Periodic work: release due deferrals, health checks, and the scaling cycle when due. */
  tick(obs: Observation, predictions?: readonly Prediction[]): Command[] {
    this.observe(obs);
    this.scheduler.highPriority.tick(obs.t_ms, this.hold.room.size > 0);
    const t = obs.t_ms;
    this.scaler.predicted(predictions ?? []);
    const commands: Command[] = [];
    commands.push(...this.hold.releaseDue(t));
    commands.push(...this.hold.releaseRoom('periodic retry'));
    if (this.cpusChanged) {
      this.cpusChanged = false;
      commands.push(...this.life.repinAll('online CPUs changed'));
    }
    if (this.nextHealth_ms === undefined || t >= this.nextHealth_ms) {
      this.nextHealth_ms = t + this.cfg.health.interval_ms;
      commands.push(...this.healer.check(obs));
      if (this.graphOn) for (const pool of this.pools.pools.values()) this.judgePool(pool);
    }
    commands.push(...this.healer.expire(t));
    if (this.scaler.due(t))
      commands.push(
        ...this.scaler.cycle(t, { ...this.life.relievable(this.pressure.systemValues()), io: 0 }),
        ...this.adopter.rebalance(t),
      );
    return commands;
  }

  /** Is a pool down, or back up? (cascade.ts) */
  private judgePool(pool: Pool): void {
    this.outages.update(pool, this.sick, this.life.now);
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
    return statusOf({
      life: this.life,
      deferred: this.hold.size,
      monitor: this.healer.monitor,
      outages: this.graphOn ? this.outages : undefined,
    });
  }
}
