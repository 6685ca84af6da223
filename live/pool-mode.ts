/**
 * Pool mode: warm worker processes launched from the commands the config names (never anything
 * else), handed requests over the line protocol of live/workers.ts, started, stopped, restarted
 * and re-pinned as the engine's commands say. Requests come from the API; a deferred one waits
 * here until the engine hands it back with a `retry` command.
 *
 * After a crash of the agent its workers lose their stdin and exit; any left in our cpuset groups
 * are stopped at the next start (they cannot be talked to again) and the pools are rebuilt by the
 * scaling cycle.
 *
 * The pools are sized from a demand forecast (`PoolForecasts`): the requests asked for are counted
 * per profile and scaling interval, the predictor is asked once per interval — asynchronously, a
 * turn never waits for it — and its forecasts, as the engine's predictions, go into the next tick
 * call's arguments, so the journal holds them and `fgo replay` feeds the engine exactly what it saw.
 */
import { join } from 'node:path';
import type { Command, Decision, Observation, Prediction, Request } from '../engine/types.ts';
import { loadDemandPredictor } from '../predict/onnx-predictor.ts';
import { DemandTracker, toPredictions, type DemandPredictor, type ProfileShape } from '../predict/predictor.ts';
import type { Agent, Mode } from './agent.ts';
import type { ScheduleBody } from './api.ts';
import type { LiveConfig } from './config.ts';
import type { CpusetGroups } from './enforce.ts';
import { readPidStatus } from './procfs.ts';
import { DemandRecorder } from './recorder.ts';
import { Worker, type WorkerResult } from './workers.ts';

interface Pending {
  request: Request;
  payload: unknown;
  wait: boolean;
  reply?: (r: { status: number; body: unknown }) => void;
  timer?: NodeJS.Timeout;
}

/** Longest a `wait: true` API call is held open. */
const WAIT_LIMIT_MS = 120_000;

const STATUS: Record<Decision['action'], number> = { place: 200, defer: 202, shed: 503, reject: 422 };

/**
 * The demand predictor of a pool-mode agent: the ONNX model of `predictor.model` — or, when none
 * is set, or it is missing or cannot be loaded (one warning), the EWMA predictor (α 0.5 over
 * scaling intervals), so a pool agent always has forecasts.
 */
export function makePredictor(cfg: LiveConfig, warn: (message: string) => void): Promise<DemandPredictor> {
  return loadDemandPredictor(cfg.predictor.model, { horizon_s: cfg.engine.scaling.interval_ms / 1000, warn });
}

/** Confidence given with the predictions (the engine reports it with each scaling decision). */
const CONFIDENCE = 0.5;

/**
 * Requests in, the engine's predictions out. Arrivals are counted per profile in intervals of the
 * engine's scaling interval on the wall clock (epoch seconds, so a model's time-of-day features
 * see the real time; intervals start at whole multiples of the interval). A profile is forecast
 * from its first request on; until then its configured pool target holds. Forecasts reach the
 * engine's pools at the first scaling cycle after they arrive.
 */
export class PoolForecasts {
  predictor: DemandPredictor | undefined;
  private tracker: DemandTracker | undefined;
  private anchor_s = 0;
  private askedThrough = 0;
  private inFlight = false;
  private stopped = false;
  /** Predictions not yet handed to the engine. */
  private fresh: Prediction[] | undefined;
  /** The latest predictions and when they arrived (agent clock, ms). */
  last: { t_ms: number; predictions: Prediction[] } | undefined;
  /** Mean time a request keeps a worker busy, per profile (worker-reported latency + warm start), ms. */
  private readonly service_ms = new Map<string, number>();
  asked = 0;
  answered = 0;
  failed = 0;

  constructor(private readonly a: Agent, private readonly clock_s: () => number = () => Date.now() / 1000) {}

  get interval_s(): number {
    return this.a.cfg.engine.scaling.interval_ms / 1000;
  }

  /** Start with `p`; intervals are counted from now. */
  use(p: DemandPredictor): void {
    this.predictor = p;
    this.tracker = new DemandTracker(this.interval_s, p.history_len);
    this.anchor_s = Math.floor(this.clock_s() / this.interval_s) * this.interval_s;
    this.tracker.histories(this.anchor_s);
    this.a.engine.note(this.a.now(), 'info', `demand predictor: ${p.name}, horizon ${p.horizon_s} s, headroom ${this.a.cfg.predictor.headroom}`);
  }

  arrival(profile: string): void {
    this.tracker?.arrival(profile, this.clock_s());
  }

  /** A request served in `latency_ms` by a worker of `profile`: the service-time estimate moves 20 % towards it. */
  served(profile: string, latency_ms: number): void {
    const warm = (this.a.cfg.engine.profiles[profile] ?? this.a.cfg.engine.default_profile).warm_start_ms;
    const x = latency_ms + warm;
    const s = this.service_ms.get(profile);
    this.service_ms.set(profile, s === undefined ? x : 0.8 * s + 0.2 * x);
  }

  /** Each turn: once an interval has closed, ask the predictor (never waited for). */
  poll(): void {
    const p = this.predictor, tracker = this.tracker;
    if (!p || !tracker || this.inFlight || this.stopped) return;
    const now_s = this.clock_s();
    const closed = Math.floor((now_s - this.anchor_s) / this.interval_s);
    if (closed <= this.askedThrough) return;
    this.askedThrough = closed;
    const batch = tracker.histories(now_s);
    if (batch.length === 0) return; // nothing asked for yet: the configured targets hold
    const shapes = new Map<string, ProfileShape>([...this.service_ms].map(([k, v]) => [k, { service_ms: v }]));
    this.inFlight = true;
    this.asked++;
    void p.forecast(batch).then((f) => {
      if (this.stopped) return;
      const predictions = toPredictions(f, shapes, this.a.cfg.predictor.headroom, CONFIDENCE).sort((x, y) => (x.profile < y.profile ? -1 : x.profile > y.profile ? 1 : 0));
      this.fresh = predictions;
      this.last = { t_ms: this.a.now(), predictions };
      this.answered++;
    }).catch((e: unknown) => {
      this.failed++;
      this.a.warn(`demand predictor ${p.name} failed: ${(e as Error)?.message ?? String(e)}; the pools keep the last predictions`);
    }).finally(() => {
      this.inFlight = false;
    });
  }

  /** The tick call's arguments: the predictions not yet handed over, once. */
  tickArgs(): unknown[] {
    const p = this.fresh;
    this.fresh = undefined;
    return p ? [p] : [];
  }

  stop(): void {
    this.stopped = true;
  }

  state(): unknown {
    const p = this.predictor;
    return {
      name: p?.name ?? null, horizon_s: p?.horizon_s ?? null, model: this.a.cfg.predictor.model ?? null, headroom: this.a.cfg.predictor.headroom,
      interval_s: this.interval_s, asked: this.asked, answered: this.answered, failed: this.failed,
      last: this.last ?? null,
    };
  }
}

export class PoolMode implements Mode {
  private readonly workers = new Map<string, Worker>();
  /** Workers we stopped: their exit is expected, not a failure. */
  private readonly stopping = new Set<Worker>();
  private readonly pending = new Map<string, Pending>();
  /** Fragment → request it is to serve once ready (cold starts). */
  private readonly assigned = new Map<string, string>();
  private readonly demand: DemandRecorder;
  readonly forecasts: PoolForecasts;
  private seq = 0;
  served = 0;

  constructor(private readonly a: Agent, private readonly groups: CpusetGroups | undefined) {
    this.demand = new DemandRecorder(join(a.cfg.state_dir, 'demand.csv'), a.cfg.pool.demand_interval_s, { warn: (m) => a.warn(m) });
    this.forecasts = new PoolForecasts(a);
    makePredictor(a.cfg, (m) => a.warn(m)).then((p) => this.forecasts.use(p))
      .catch((e: unknown) => a.warn(`demand predictor: ${(e as Error)?.message ?? String(e)}; the pools keep their configured targets`));
  }

  recover(obs: Observation): void {
    for (const g of this.groups?.list() ?? []) {
      for (const pid of g.pids) {
        this.a.log(`stopping orphaned worker pid ${pid} of ${g.name} (left by a previous run; its pipes are gone)`);
        if (this.a.executor.enforcing) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      this.a.engine.note(obs.t_ms, 'info', `recovered group ${g.name}`, { pids: g.pids });
      this.a.removeGroup(g.name, obs.t_ms); // retried at later turns until the killed workers have left it
    }
  }

  beforeTick(obs: Observation): void {
    this.demand.flush(obs.t_ms);
    this.forecasts.poll();
  }

  tickArgs(): unknown[] {
    return this.forecasts.tickArgs();
  }

  fragmentObservations(t_ms: number): Observation['fragments'] {
    const out: NonNullable<Observation['fragments']> = [];
    for (const [id, w] of this.workers) {
      if (w.pid === undefined || this.stopping.has(w)) continue;
      const f: NonNullable<Observation['fragments']>[number] = { id, heartbeat_ms: Math.min(t_ms, this.a.agentMs(w.lastHeartbeat_ms)) };
      try {
        const s = readPidStatus(this.a.o.roots, w.pid);
        if (!s.gone && s.value.vm_rss_kb !== undefined) f.rss_kb = s.value.vm_rss_kb;
      } catch { /* unreadable status: no RSS this tick */ }
      out.push(f);
    }
    return out;
  }

  schedule(body: ScheduleBody): Promise<{ status: number; body: unknown }> {
    if (!this.a.cfg.pool.workers[body.profile]) return Promise.resolve({ status: 404, body: { error: `unknown profile "${body.profile}": this agent runs ${Object.keys(this.a.cfg.pool.workers).join(', ')}` } });
    if (body.memory_home !== undefined && !this.a.topology.nodes.some((n) => n.id === body.memory_home)) {
      return Promise.resolve({ status: 400, body: { error: `memory_home ${body.memory_home} is not a node of this host (${this.a.topology.nodes.map((n) => n.id).join(', ')})` } });
    }
    const profile = this.a.cfg.engine.profiles[body.profile] ?? this.a.cfg.engine.default_profile;
    const request: Request = { id: `r${++this.seq}`, profile: body.profile, cpus: body.cpus ?? profile.cpus, memory_kb: body.memory_kb ?? profile.memory_kb, priority: body.priority as Request['priority'] };
    if (body.memory_home !== undefined) request.memory_home = body.memory_home;
    if (body.exclusive_cpus !== undefined) request.exclusive_cpus = body.exclusive_cpus;
    const obs = this.a.observationNow();
    this.demand.count(body.profile, obs.t_ms);
    this.forecasts.arrival(body.profile);
    const p: Pending = { request, payload: body.payload, wait: body.wait };
    this.pending.set(request.id, p);
    return new Promise((resolve) => {
      p.reply = (r) => {
        this.a.journal.flush(); // the decision the client sees is durable first
        resolve(r);
      };
      if (p.wait) p.timer = setTimeout(() => this.answer(p, { status: 504, body: { error: `no result within ${WAIT_LIMIT_MS} ms`, request_id: request.id } }), WAIT_LIMIT_MS);
      const d = this.decide(p, obs);
      if (!p.wait || d.action === 'shed' || d.action === 'reject') this.answer(p, { status: STATUS[d.action], body: d });
    });
  }

  /** Ask the engine; carry out its commands; hand the request to a warm worker at once. */
  private decide(p: Pending, obs: Observation): Decision {
    const d = this.a.call('schedule', [p.request], obs) as Decision;
    if ('error' in d) return { action: 'reject', reason: String((d as { error: string }).error) } as Decision;
    if (d.action === 'shed' || d.action === 'reject') this.pending.delete(p.request.id);
    if (d.action !== 'place') return d;
    const fragment = d.fragment as string;
    this.assigned.set(fragment, p.request.id);
    this.a.run(d.commands, obs);
    if (d.start === 'warm') {
      if (d.delay_ms) setTimeout(() => this.deliver(fragment), d.delay_ms);
      else this.deliver(fragment);
    }
    return d;
  }

  private deliver(fragment: string): void {
    const id = this.assigned.get(fragment);
    const w = this.workers.get(fragment);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!w || !p || w.state !== 'ready') return;
    this.assigned.delete(fragment);
    try {
      w.send({ id: p.request.id, payload: p.payload });
    } catch (e) {
      // A request the worker cannot be handed (its payload cannot be encoded) must not keep the
      // fragment it was placed on active for good: complete it as failed and tell the client.
      this.pending.delete(p.request.id);
      const obs = this.a.observationNow();
      this.a.run(this.a.call('complete', [fragment, { ok: false, latency_ms: 0 }], obs) as Command[], obs);
      this.answer(p, { status: 500, body: { error: `request could not be handed to a worker: ${(e as Error).message}`, request_id: p.request.id } });
    }
  }

  private answer(p: Pending, r: { status: number; body: unknown }): void {
    if (p.timer) clearTimeout(p.timer);
    const reply = p.reply;
    p.reply = undefined;
    reply?.(r);
  }

  command(c: Command, obs: Observation): void {
    switch (c.type) {
      case 'start': return this.spawn(c.fragment, c.profile, c.node, c.cpus, obs);
      case 'restart': {
        const old = this.workers.get(c.fragment);
        if (old) this.stopWorker(old, c.reason);
        const f = this.a.engine.engine.pools.get(c.fragment);
        if (f) this.spawn(c.fragment, f.profile, f.node, f.cpus, obs);
        return;
      }
      case 'stop': {
        const w = this.workers.get(c.fragment);
        if (w) this.stopWorker(w, c.reason);
        return;
      }
      case 'pin':
      case 'migrate': {
        const pid = this.workers.get(c.fragment)?.pid;
        if (pid === undefined) return;
        this.a.steps(c.type === 'pin' ? this.a.executor.pin(c.fragment, [pid], c.node, c.cpus) : this.a.executor.migrate(c.fragment, [pid], c.from, c.to, c.cpus), obs.t_ms);
        return;
      }
      case 'retry': {
        const p = this.pending.get(c.request.id);
        if (p) {
          const d = this.decide(p, obs);
          if (d.action === 'shed' || d.action === 'reject' || (d.action === 'place' && !p.wait)) this.answer(p, { status: STATUS[d.action], body: d });
        }
        return;
      }
      case 'shed': {
        const p = this.pending.get(c.request_id);
        this.pending.delete(c.request_id);
        if (p) this.answer(p, { status: 503, body: { action: 'shed', request_id: c.request_id, reason: c.reason } });
        return;
      }
      case 'alert':
        this.a.warn(`alert ${c.subject}: ${c.reason}`);
        return;
      case 'drain':
      case 'undrain':
        return; // the engine stops routing to a draining fragment; nothing to do on the host
    }
  }

  private spawn(fragment: string, profile: string, node: number, cpus: readonly number[], obs: Observation): void {
    const spec = this.a.cfg.pool.workers[profile];
    if (!spec) {
      this.a.run(this.a.call('failed', [fragment, `no worker command for profile ${profile}`], obs) as Command[], obs);
      return;
    }
    const w = Worker.spawn(fragment, profile, spec, {
      ready: () => this.ready(w),
      heartbeat: () => {},
      result: (_w, r) => this.result(w, r),
      exit: (_w, how) => this.exited(w, how.reason),
      protocolError: (_w, problem) => this.a.log(`worker ${fragment}: protocol error: ${problem}`),
      stderr: (_w, line) => this.a.log(`worker ${fragment}: ${line}`),
    });
    this.workers.set(fragment, w);
    if (w.pid !== undefined) this.a.steps(this.a.executor.pin(fragment, [w.pid], node, cpus), obs.t_ms);
  }

  private ready(w: Worker): void {
    if (this.workers.get(w.fragment) !== w) return;
    const obs = this.a.observationNow();
    const f = this.a.engine.engine.pools.get(w.fragment);
    if (f?.state === 'starting') this.a.run(this.a.call('started', [w.fragment], obs) as Command[], obs);
    this.deliver(w.fragment);
  }

  private result(w: Worker, r: WorkerResult): void {
    const obs = this.a.observationNow();
    const p = this.pending.get(r.id);
    this.pending.delete(r.id);
    this.served++;
    const latency_ms = Math.round(r.latency_ms * 1000) / 1000;
    this.forecasts.served(w.profile, latency_ms);
    this.a.run(this.a.call('complete', [w.fragment, { ok: r.ok, latency_ms }], obs) as Command[], obs);
    if (p) this.answer(p, { status: 200, body: { action: 'place', request_id: r.id, fragment: w.fragment, ok: r.ok, latency_ms, ...(r.ok ? { result: r.result } : { error: r.error }) } });
  }

  private exited(w: Worker, reason: string): void {
    const expected = this.stopping.delete(w);
    if (this.workers.get(w.fragment) === w) this.workers.delete(w.fragment);
    const obs = this.a.observationNow();
    if (!expected && this.a.engine.engine.pools.get(w.fragment)) {
      this.a.run(this.a.call('failed', [w.fragment, reason], obs) as Command[], obs);
    }
    if (!this.workers.has(w.fragment)) this.a.removeGroup(w.fragment, obs.t_ms);
  }

  private stopWorker(w: Worker, reason: string): void {
    this.stopping.add(w);
    if (this.workers.get(w.fragment) === w) this.workers.delete(w.fragment);
    void w.stop(reason);
  }

  state(): unknown {
    return {
      workers: [...this.workers.values()].map((w) => ({ fragment: w.fragment, profile: w.profile, pid: w.pid, state: w.state })),
      pending: this.pending.size, served: this.served, predictor: this.forecasts.state(),
    };
  }

  async stop(): Promise<void> {
    this.forecasts.stop();
    const all = [...this.workers.values()];
    await Promise.all(all.map((w) => {
      this.stopping.add(w);
      return w.stop('agent stopping');
    }));
    this.workers.clear();
    for (const p of this.pending.values()) this.answer(p, { status: 503, body: { error: 'agent stopping', request_id: p.request.id } });
    this.demand.close(this.a.now());
  }
}
