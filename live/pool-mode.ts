/**
 * Pool mode: requests from the API (and workers' calls to other profiles) decided by the engine
 * and handed to warm worker processes (live/pool-workers.ts) over the line protocol of
 * live/workers.ts. A deferred request waits here until the engine hands it back with a `retry`
 * command. The pools are sized from a demand forecast (live/pool-forecasts.ts).
 *
 * Ownership (live/ownership.ts): every worker spawned is recorded as (pid, start time) in the
 * state dir. After a crash of the agent its workers lose their stdin and should exit; one that is
 * still there at the next start, with the same pid AND start time, is ours and is stopped. Any
 * other process under cgroup_parent — and any group this agent did not create — is left alone and
 * reported once.
 */
import { join } from 'node:path';
import type { Command, Decision, Observation, Prediction, Request } from '../engine/types.ts';
import type { ScheduleBody } from '../serve/schedule-body.ts';
import type { CpusetGroups } from './enforce.ts';
import type { Answer, Mode, ModeHost } from './mode.ts';
import { PoolCalls } from './pool-calls.ts';
import { makePredictor, PoolForecasts } from './pool-forecasts.ts';
import { stopOrphans } from './pool-orphans.ts';
import { PoolWorkers } from './pool-workers.ts';
import { DemandRecorder } from './recorder.ts';
import { encodePayload } from './worker-protocol.ts';
import type { Worker, WorkerResult } from './workers.ts';
import { roundTo } from '../engine/round.ts';

export { makePredictor, PoolForecasts } from './pool-forecasts.ts';

interface Pending {
  request: Request;
  payload: unknown;
  wait: boolean;
  arrived_ms: number; // performance.now() at admission, where fgo_request_duration_seconds starts
  reply?: (r: Answer) => void;
  timer?: NodeJS.Timeout;
}

/** Longest a `wait: true` API call is held open. */
const WAIT_LIMIT_MS = 120_000;

const STATUS: Record<Decision['action'], number> = { place: 200, defer: 202, shed: 503, reject: 422 };

/** The engine could not decide the request (it refused its input): answered as a rejection. */
type Refusal = { action: 'reject'; reason: string };

export class PoolMode implements Mode {
  private readonly pending = new Map<string, Pending>();
  /** Fragment → request it is to serve once ready (cold starts). */
  private readonly assigned = new Map<string, string>();
  private readonly workers: PoolWorkers;
  private readonly demand: DemandRecorder;
  readonly forecasts: PoolForecasts;
  /** Calls between workers (the fragment graph): live/pool-calls.ts. */
  private readonly calls: PoolCalls;
  private seq = 0;
  served = 0;

  constructor(
    private readonly h: ModeHost,
    private readonly groups: CpusetGroups | undefined,
  ) {
    this.workers = new PoolWorkers(h, {
      ready: (fragment) => this.deliver(fragment),
      result: (w, r) => this.result(w, r),
      call: (w, c) => this.calls.call(w, c),
      exited: (fragment) => this.calls.ended(fragment),
      circuitOpen: (profile) => this.refuseWaiting(profile),
    });
    this.demand = new DemandRecorder(join(h.cfg.state_dir, 'demand.csv'), h.cfg.pool.demand_interval_s, {
      warn: (m) => h.warn(m),
    });
    this.forecasts = new PoolForecasts(h);
    this.calls = new PoolCalls(
      h.cfg.engine,
      (request, payload, reply) => this.submitCall(request, payload, reply),
      (fragment) => {
        const obs = h.observationNow();
        h.act((e) => e.calling(fragment, obs), obs);
      },
    );
    makePredictor(h.cfg, (m) => h.warn(m))
      .then((p) => this.forecasts.use(p))
      .catch((e: unknown) =>
        h.warn(`demand predictor: ${(e as Error)?.message ?? String(e)}; the pools keep their configured targets`),
      );
  }

  private get guard() {
    return this.workers.guard;
  }

  recover(obs: Observation): void {
    stopOrphans(this.h, this.groups, obs);
  }

  beforeTick(obs: Observation): void {
    this.demand.flush(obs.t_ms);
    this.forecasts.poll();
    this.workers.beforeTick();
  }

  predictions(): Prediction[] | undefined {
    return this.forecasts.handOver();
  }

  fragmentObservations(t_ms: number): Observation['fragments'] {
    return this.workers.fragmentObservations(t_ms);
  }

  schedule(body: ScheduleBody): Promise<Answer> {
    const refused = this.refusal(body);
    if (refused) return Promise.resolve(refused);
    const profile = this.h.cfg.engine.profiles[body.profile] ?? this.h.cfg.engine.default_profile;
    const request: Request = {
      id: `r${++this.seq}`,
      profile: body.profile,
      cpus: body.cpus ?? profile.cpus,
      memory_kb: body.memory_kb ?? profile.memory_kb,
      priority: body.priority as Request['priority'],
    };
    if (body.memory_home !== undefined) request.memory_home = body.memory_home;
    if (body.exclusive_cpus !== undefined) request.exclusive_cpus = body.exclusive_cpus;
    const p: Pending = { request, payload: body.payload, wait: body.wait, arrived_ms: performance.now() };
    return new Promise((resolve) => {
      p.reply = (r) => {
        this.h.flush(); // the decision the client sees is durable first
        resolve(r);
      };
      const d = this.admit(p, this.h.observationNow());
      if (!p.wait || d.action === 'shed' || d.action === 'reject')
        this.answer(p, { status: STATUS[d.action], body: d });
    });
  }

  /** The answer to a request refused before the engine sees it, if it is. */
  private refusal(body: ScheduleBody): Answer | undefined {
    if (this.workers.closing) return { status: 503, body: { error: 'agent stopping', retry_after_s: 1 } };
    const { workers } = this.h.cfg.pool;
    if (!workers[body.profile])
      return {
        status: 404,
        body: { error: `unknown profile "${body.profile}": this agent runs ${Object.keys(workers).join(', ')}` },
      };
    const nodes = this.h.topology.nodes;
    if (body.memory_home !== undefined && !nodes.some((n) => n.id === body.memory_home))
      return {
        status: 400,
        body: {
          error: `memory_home ${body.memory_home} is not a node of this host (${nodes.map((n) => n.id).join(', ')})`,
        },
      };
    if (this.guard.refusing(body.profile)) return this.unavailable(body.profile);
    // A payload no worker could be sent is refused before the engine places it (and holds a fragment for it).
    const enc = encodePayload(body.payload);
    if (!enc.ok) return { status: 400, body: { error: enc.error } };
    return undefined;
  }

  /** Count the request's demand, hold it (a waiting one is answered within WAIT_LIMIT_MS) and decide it. */
  private admit(p: Pending, obs: Observation): Decision | Refusal {
    this.demand.count(p.request.profile, obs.t_ms);
    this.forecasts.arrival(p.request.profile);
    this.pending.set(p.request.id, p);
    if (p.wait)
      p.timer = setTimeout(
        () =>
          this.answer(p, {
            status: 504,
            body: { error: `no result within ${WAIT_LIMIT_MS} ms`, request_id: p.request.id },
          }),
        WAIT_LIMIT_MS,
      );
    return this.decide(p, obs);
  }

  /** A worker's call to another profile (pool-calls.ts), scheduled like a waiting API request; `reply` gets its answer. */
  private submitCall(request: Request, payload: unknown, reply: (r: Answer) => void): void {
    if (this.workers.closing) return reply({ status: 503, body: { error: 'agent stopping', request_id: request.id } });
    if (this.guard.refusing(request.profile)) return reply(this.unavailable(request.profile, request.id));
    const p: Pending = { request, payload, wait: true, arrived_ms: performance.now(), reply };
    const d = this.admit(p, this.h.observationNow());
    if (d.action === 'shed' || d.action === 'reject') this.answer(p, { status: STATUS[d.action], body: d });
  }

  /** The answer while a profile's breaker is open: 503, with when to try again (the API sends it as Retry-After). */
  private unavailable(profile: string, request_id?: string): Answer {
    const retry_after_s = this.guard.retryAfter_s(profile);
    return {
      status: 503,
      body: {
        action: 'unavailable',
        profile,
        ...(request_id !== undefined ? { request_id } : {}),
        retry_after_s,
        error: `workers of profile ${profile} cannot start (${this.guard.failures(profile)} failures in a row; last: ${this.guard.lastReason(profile)}); try again in ${retry_after_s} s`,
      },
    };
  }

  /** Ask the engine; carry out its commands; hand the request to a warm worker at once. */
  private decide(p: Pending, obs: Observation): Decision | Refusal {
    let d: Decision;
    try {
      d = this.h.engine.schedule(p.request, obs);
    } catch (e) {
      this.pending.delete(p.request.id); // journalled and logged; nothing will hand it back
      return { action: 'reject', reason: String((e as Error).message) };
    }
    if (d.action === 'shed' || d.action === 'reject') this.pending.delete(p.request.id);
    if (d.action !== 'place' || d.fragment === undefined) return d;
    const fragment = d.fragment;
    this.assigned.set(fragment, p.request.id);
    this.h.run(d.commands, obs);
    if (d.start === 'warm') {
      if (d.delay_ms) setTimeout(() => this.deliver(fragment), d.delay_ms);
      else this.deliver(fragment);
    }
    return d;
  }

  /** Send a ready fragment its request; a request that cannot go (answered meanwhile, payload unencodable) frees the fragment. */
  private deliver(fragment: string): void {
    const w = this.workers.get(fragment);
    const id = this.assigned.get(fragment);
    if (this.workers.closed || !w || w.state !== 'ready' || id === undefined) return;
    this.assigned.delete(fragment);
    const p = this.pending.get(id);
    if (!p) return this.giveBack(fragment, `request ${id} was already answered`);
    const sent = w.send({ id, payload: p.payload });
    if (sent.ok) return this.calls.began(fragment, p.request);
    this.pending.delete(id);
    this.answer(p, { status: 400, body: { error: sent.error, request_id: id } });
    this.giveBack(fragment, sent.error);
  }

  /** The engine holds `fragment` active for a request that will never reach it: complete that as failed, so the fragment serves again. */
  private giveBack(fragment: string, why: string): void {
    const state = this.h.engine.pools.get(fragment)?.state;
    if (state !== 'active' && state !== 'draining') return;
    this.h.log(`fragment ${fragment}: request not delivered (${why}); the fragment goes back to its pool`);
    const obs = this.h.observationNow();
    this.h.act((e) => e.complete(fragment, { ok: false, latency_ms: 0 }, obs), obs);
  }

  private answer(p: Pending, r: Answer): void {
    if (p.timer) clearTimeout(p.timer);
    const reply = p.reply;
    p.reply = undefined;
    reply?.(r);
  }

  command(c: Command, obs: Observation): void {
    switch (c.type) {
      case 'start':
      case 'restart':
      case 'stop':
      case 'pin':
      case 'migrate':
        return this.workers.command(c, obs);
      case 'retry': {
        const p = this.pending.get(c.request.id);
        if (p) {
          const d = this.decide(p, obs);
          if (d.action === 'shed' || d.action === 'reject' || (d.action === 'place' && !p.wait))
            this.answer(p, { status: STATUS[d.action], body: d });
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
        this.h.warn(`alert ${c.subject}: ${c.reason}`);
        return;
      case 'drain':
      case 'undrain':
        return; // the engine stops routing to a draining fragment; nothing to do on the host
    }
  }

  private result(w: Worker, r: WorkerResult): void {
    if (this.workers.closed) return;
    const obs = this.h.observationNow();
    const p = this.pending.get(r.id);
    this.pending.delete(r.id);
    this.served++;
    const latency_ms = roundTo(r.latency_ms, 3);
    this.forecasts.served(w.profile, latency_ms);
    if (p) this.h.observeRequest(w.profile, r.ok, (performance.now() - p.arrived_ms) / 1000);
    // A failure a down dependency caused is reported as the dependency's (engine/cascade.ts).
    const dependency = this.calls.ended(w.fragment);
    const outcome = { ok: r.ok, latency_ms, ...(!r.ok && dependency !== undefined ? { dependency } : {}) };
    this.h.act((e) => e.complete(w.fragment, outcome, obs), obs);
    if (p)
      this.answer(p, {
        status: 200,
        body: {
          action: 'place',
          request_id: r.id,
          fragment: w.fragment,
          ok: r.ok,
          latency_ms,
          ...(r.ok ? { result: r.result } : { error: r.error }),
        },
      });
  }

  /** A profile's breaker opened: its waiting requests are answered 503 now (a retry the engine hands back later finds nothing: dropped). */
  private refuseWaiting(profile: string): void {
    for (const p of [...this.pending.values()]) {
      if (p.request.profile !== profile || !p.reply) continue;
      this.pending.delete(p.request.id);
      this.answer(p, this.unavailable(profile, p.request.id));
    }
  }

  state(): unknown {
    const { workers, held_starts, breakers } = this.workers.state();
    return {
      workers,
      held_starts,
      breakers,
      pending: this.pending.size,
      served: this.served,
      predictor: this.forecasts.state(),
    };
  }

  /** Answer every waiting client (503) and stop every worker. */
  async stop(): Promise<void> {
    this.forecasts.stop();
    const stopped = this.workers.stop(); // no more starts from here on
    for (const p of this.pending.values())
      this.answer(p, { status: 503, body: { error: 'agent stopping', request_id: p.request.id, retry_after_s: 1 } });
    await stopped;
    this.demand.close(this.h.now());
    this.workers.closed = true;
  }
}
