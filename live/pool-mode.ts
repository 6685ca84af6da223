/**
 * Pool mode: warm worker processes launched from the commands the config names (never anything
 * else), handed requests over the line protocol of live/workers.ts, started, stopped, restarted
 * and re-pinned as the engine's commands say. Requests come from the API; a deferred one waits
 * here until the engine hands it back with a `retry` command. The pools are sized from a demand
 * forecast (live/pool-forecasts.ts).
 *
 * Starts go through a StartGuard (live/start-guard.ts): a command that cannot start is retried
 * with exponential backoff, and after a few failures in a row its profile's requests are answered
 * 503 with a retry-after at once, instead of thousands of spawns a second.
 *
 * Ownership (live/ownership.ts): every worker spawned is recorded as (pid, start time) in the
 * state dir. After a crash of the agent its workers lose their stdin and should exit; one that is
 * still there at the next start, with the same pid AND start time, is ours and is stopped. Any
 * other process under cgroup_parent — and any group this agent did not create — is left alone and
 * reported once.
 */
import { join } from 'node:path';
import type { Command, Decision, Observation, Request } from '../engine/types.ts';
import type { Agent, Mode } from './agent.ts';
import type { ScheduleBody } from '../serve/api.ts';
import type { CpusetGroups } from './enforce.ts';
import { PoolCalls } from './pool-calls.ts';
import { makePredictor, PoolForecasts } from './pool-forecasts.ts';
import { readPidStatus } from './procfs.ts';
import { DemandRecorder } from './recorder.ts';
import { stopOrphans } from './pool-orphans.ts';
import { processStart } from './selectors.ts';
import { StartGuard } from './start-guard.ts';
import { encodePayload, Worker, type WorkerExit, type WorkerResult } from './workers.ts';
import { roundTo } from '../engine/round.ts';

export { makePredictor, PoolForecasts } from './pool-forecasts.ts';

type Answer = { status: number; body: unknown };

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

export class PoolMode implements Mode {
  private readonly workers = new Map<string, Worker>();
  /** Workers we stopped: their exit is expected, not a failure. */
  private readonly stopping = new Set<Worker>();
  /** Start time (/proc/PID/stat field 22) of each worker, as recorded in the ownership ledger. */
  private readonly starts = new Map<Worker, number>();
  private readonly pending = new Map<string, Pending>();
  /** Fragment → request it is to serve once ready (cold starts). */
  private readonly assigned = new Map<string, string>();
  /** Fragment → profile: starts the guard holds back, launched when it allows. */
  private readonly held = new Map<string, string>();
  /** Profile → timer that launches its held starts. */
  private readonly wakeups = new Map<string, NodeJS.Timeout>();
  private readonly guard: StartGuard;
  private readonly demand: DemandRecorder;
  readonly forecasts: PoolForecasts;
  /** Calls between workers (the fragment graph): live/pool-calls.ts. */
  private readonly calls: PoolCalls;
  /** stop() has begun: no more starts, nothing more told to the engine about exits. */
  private closing = false;
  /** stop() is done and the journal may be closed: worker events change nothing any more. */
  private closed = false;
  private seq = 0;
  served = 0;

  constructor(
    private readonly a: Agent,
    private readonly groups: CpusetGroups | undefined,
  ) {
    this.guard = new StartGuard(a.cfg.pool.start_backoff, () => a.now());
    this.demand = new DemandRecorder(join(a.cfg.state_dir, 'demand.csv'), a.cfg.pool.demand_interval_s, {
      warn: (m) => a.warn(m),
    });
    this.forecasts = new PoolForecasts(a);
    this.calls = new PoolCalls(
      a.cfg.engine,
      (request, payload, reply) => this.submitCall(request, payload, reply),
      (fragment) => {
        const obs = this.a.observationNow();
        this.a.run(this.a.call('calling', [fragment], obs) as Command[], obs);
      },
    );
    makePredictor(a.cfg, (m) => a.warn(m))
      .then((p) => this.forecasts.use(p))
      .catch((e: unknown) =>
        a.warn(`demand predictor: ${(e as Error)?.message ?? String(e)}; the pools keep their configured targets`),
      );
  }

  recover(obs: Observation): void {
    stopOrphans(this.a, this.groups, obs);
  }

  beforeTick(obs: Observation): void {
    this.demand.flush(obs.t_ms);
    this.forecasts.poll();
    const now = performance.now();
    for (const w of this.workers.values())
      if (w.readySince_ms !== undefined) this.guard.running(w.profile, now - w.readySince_ms);
  }

  tickArgs(): unknown[] {
    return this.forecasts.tickArgs();
  }

  fragmentObservations(t_ms: number): Observation['fragments'] {
    const out: NonNullable<Observation['fragments']> = [];
    for (const [id, w] of this.workers) {
      if (w.pid === undefined || this.stopping.has(w)) continue;
      const f: NonNullable<Observation['fragments']>[number] = {
        id,
        heartbeat_ms: Math.min(t_ms, this.a.agentMs(w.lastHeartbeat_ms)),
      };
      try {
        const s = readPidStatus(this.a.o.roots, w.pid);
        if (!s.gone && s.value.vm_rss_kb !== undefined) f.rss_kb = s.value.vm_rss_kb;
      } catch {
        /* unreadable status: no RSS this tick */
      }
      out.push(f);
    }
    return out;
  }

  schedule(body: ScheduleBody): Promise<Answer> {
    if (this.closing) return Promise.resolve({ status: 503, body: { error: 'agent stopping', retry_after_s: 1 } });
    if (!this.a.cfg.pool.workers[body.profile])
      return Promise.resolve({
        status: 404,
        body: {
          error: `unknown profile "${body.profile}": this agent runs ${Object.keys(this.a.cfg.pool.workers).join(', ')}`,
        },
      });
    if (body.memory_home !== undefined && !this.a.topology.nodes.some((n) => n.id === body.memory_home)) {
      return Promise.resolve({
        status: 400,
        body: {
          error: `memory_home ${body.memory_home} is not a node of this host (${this.a.topology.nodes.map((n) => n.id).join(', ')})`,
        },
      });
    }
    if (this.guard.refusing(body.profile)) return Promise.resolve(this.unavailable(body.profile));
    // A payload no worker could be sent is refused before the engine places it (and holds a fragment for it).
    const enc = encodePayload(body.payload);
    if (!enc.ok) return Promise.resolve({ status: 400, body: { error: enc.error } });
    const profile = this.a.cfg.engine.profiles[body.profile] ?? this.a.cfg.engine.default_profile;
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
        this.a.journal.flush(); // the decision the client sees is durable first
        resolve(r);
      };
      const d = this.admit(p, this.a.observationNow());
      if (!p.wait || d.action === 'shed' || d.action === 'reject')
        this.answer(p, { status: STATUS[d.action], body: d });
    });
  }

  /** Count the request's demand, hold it (a waiting one is answered within WAIT_LIMIT_MS) and decide it. */
  private admit(p: Pending, obs: Observation): Decision {
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
    if (this.closing) return reply({ status: 503, body: { error: 'agent stopping', request_id: request.id } });
    if (this.guard.refusing(request.profile)) return reply(this.unavailable(request.profile, request.id));
    const p: Pending = { request, payload, wait: true, arrived_ms: performance.now(), reply };
    const d = this.admit(p, this.a.observationNow());
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

  /** Send a ready fragment its request; a request that cannot go (answered meanwhile, payload unencodable) frees the fragment. */
  private deliver(fragment: string): void {
    const w = this.workers.get(fragment);
    const id = this.assigned.get(fragment);
    if (this.closed || !w || w.state !== 'ready' || id === undefined) return;
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
    const f = this.a.engine.engine.pools.get(fragment);
    if (f?.state !== 'active' && f?.state !== 'draining') return;
    this.a.log(`fragment ${fragment}: request not delivered (${why}); the fragment goes back to its pool`);
    const obs = this.a.observationNow();
    this.a.run(this.a.call('complete', [fragment, { ok: false, latency_ms: 0 }], obs) as Command[], obs);
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
        return this.spawn(c.fragment, c.profile, c.node, c.cpus, obs);
      case 'restart': {
        const old = this.workers.get(c.fragment);
        if (old) this.stopWorker(old, c.reason);
        const f = this.a.engine.engine.pools.get(c.fragment);
        if (f) this.spawn(c.fragment, f.profile, f.node, f.cpus, obs);
        return;
      }
      case 'stop': {
        this.held.delete(c.fragment);
        const w = this.workers.get(c.fragment);
        if (w) this.stopWorker(w, c.reason);
        return;
      }
      case 'pin':
      case 'migrate': {
        const pid = this.workers.get(c.fragment)?.pid;
        if (pid === undefined) return; // a held start is launched where the engine has it then
        this.a.steps(
          c.type === 'pin'
            ? this.a.executor.pin(c.fragment, [pid], c.node, c.cpus)
            : this.a.executor.migrate(c.fragment, [pid], c.from, c.to, c.cpus),
          obs.t_ms,
        );
        return;
      }
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
        this.a.warn(`alert ${c.subject}: ${c.reason}`);
        return;
      case 'drain':
      case 'undrain':
        return; // the engine stops routing to a draining fragment; nothing to do on the host
    }
  }

  /** Start a worker for the fragment now, or hold the start until the guard allows it. */
  private spawn(fragment: string, profile: string, node: number, cpus: readonly number[], obs: Observation): void {
    if (this.closing) return;
    if (!this.a.cfg.pool.workers[profile]) {
      this.a.run(this.a.call('failed', [fragment, `no worker command for profile ${profile}`], obs) as Command[], obs);
      return;
    }
    this.held.delete(fragment);
    const wait = this.guard.wait_ms(profile);
    if (wait !== 0) {
      this.held.set(fragment, profile);
      this.wake(profile, wait);
      return;
    }
    this.launch(fragment, profile, node, cpus, obs.t_ms);
  }

  private launch(fragment: string, profile: string, node: number, cpus: readonly number[], t_ms: number): void {
    this.guard.began(profile);
    const w = Worker.spawn(fragment, profile, this.a.cfg.pool.workers[profile]!, {
      ready: () => this.ready(w),
      heartbeat: () => {},
      result: (_w, r) => this.result(w, r),
      call: (_w, c) => this.calls.call(w, c),
      exit: (_w, how) => this.exited(w, how),
      protocolError: (_w, problem) => this.a.log(`worker ${fragment}: protocol error: ${problem}`),
      stderr: (_w, line) => this.a.log(`worker ${fragment}: ${line}`),
    });
    this.workers.set(fragment, w);
    if (w.pid === undefined) return;
    const starttime = processStart(this.a.o.roots, w.pid); // undefined: already gone (`exit` follows)
    if (starttime !== undefined) {
      this.starts.set(w, starttime);
      this.a.owned.addWorker({ pid: w.pid, starttime, fragment, profile });
    }
    this.a.steps(this.a.executor.pin(fragment, [w.pid], node, cpus), t_ms);
  }

  /** Launch held starts of `profile` in `wait_ms` (undefined: a trial start is in flight; its end wakes them). */
  private wake(profile: string, wait_ms: number | undefined): void {
    if (wait_ms === undefined || this.wakeups.has(profile) || this.closing) return;
    this.wakeups.set(
      profile,
      setTimeout(() => {
        this.wakeups.delete(profile);
        this.launchHeld(profile);
      }, wait_ms),
    );
  }

  /** Launch the held starts of `profile` the guard allows now, each where the engine has its fragment now. */
  private launchHeld(profile: string): void {
    for (const [fragment, p] of this.held) {
      if (this.closing) return;
      if (p !== profile) continue;
      const wait = this.guard.wait_ms(profile);
      if (wait !== 0) return this.wake(profile, wait);
      this.held.delete(fragment);
      const f = this.a.engine.engine.pools.get(fragment);
      if (f?.state === 'starting' && !this.workers.has(fragment))
        this.launch(fragment, profile, f.node, f.cpus, this.a.now());
    }
  }

  private ready(w: Worker): void {
    if (this.closing || this.workers.get(w.fragment) !== w) return;
    this.guard.ready(w.profile);
    const obs = this.a.observationNow();
    const f = this.a.engine.engine.pools.get(w.fragment);
    if (f?.state === 'starting') this.a.run(this.a.call('started', [w.fragment], obs) as Command[], obs);
    this.deliver(w.fragment);
    this.launchHeld(w.profile);
  }

  private result(w: Worker, r: WorkerResult): void {
    if (this.closed) return;
    const obs = this.a.observationNow();
    const p = this.pending.get(r.id);
    this.pending.delete(r.id);
    this.served++;
    const latency_ms = roundTo(r.latency_ms, 3);
    this.forecasts.served(w.profile, latency_ms);
    if (p) this.a.metrics.observeRequest(w.profile, r.ok, (performance.now() - p.arrived_ms) / 1000);
    // A failure a down dependency caused is reported as the dependency's (engine/cascade.ts).
    const dependency = this.calls.ended(w.fragment);
    this.a.run(
      this.a.call(
        'complete',
        [w.fragment, { ok: r.ok, latency_ms, ...(!r.ok && dependency !== undefined ? { dependency } : {}) }],
        obs,
      ) as Command[],
      obs,
    );
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

  private exited(w: Worker, how: WorkerExit): void {
    const starttime = this.starts.get(w);
    this.starts.delete(w);
    if (starttime !== undefined && w.pid !== undefined) this.a.owned.removeWorker(w.pid, starttime);
    if (this.closed) return; // after stop(): the journal may be closed, the engine is done
    const expected = this.stopping.delete(w);
    this.calls.ended(w.fragment);
    if (this.workers.get(w.fragment) === w) this.workers.delete(w.fragment);
    const obs = this.a.observationNow();
    if (!expected && !this.closing) {
      this.startFailure(w, how);
      if (this.a.engine.engine.pools.get(w.fragment))
        this.a.run(this.a.call('failed', [w.fragment, how.reason], obs) as Command[], obs);
    }
    if (!this.workers.has(w.fragment)) this.a.removeGroup(w.fragment, obs.t_ms);
  }

  /** An unexpected exit before the worker proved itself (ready for stable_ms): logged with its reason and counted by the guard. */
  private startFailure(w: Worker, how: WorkerExit): void {
    if (how.ready_ms !== undefined && how.ready_ms >= this.guard.cfg.stable_ms) return; // it served: a crash, the engine's to heal
    const r = this.guard.failed(w.profile, how.reason);
    const what =
      how.ready_ms === undefined ? 'failed to start' : `died ${Math.round(how.ready_ms)} ms after its ready line`;
    const line = `worker ${w.fragment} (profile ${w.profile}) ${what}: ${how.reason}; ${r.failures} start failure(s) in a row, next start of ${w.profile} in ${(r.delay_ms / 1000).toFixed(1)} s`;
    this.a.log(line);
    this.a.engine.note(this.a.now(), 'error', line);
    if (!r.opened) return;
    this.a.log(
      `circuit open for profile ${w.profile} after ${r.failures} start failures in a row: its requests are answered 503 (retry after ${this.guard.retryAfter_s(w.profile)} s) until a worker starts`,
    );
    for (const p of [...this.pending.values()]) {
      if (p.request.profile !== w.profile || !p.reply) continue;
      this.pending.delete(p.request.id); // a retry the engine hands back later finds nothing: dropped
      this.answer(p, this.unavailable(w.profile, p.request.id));
    }
  }

  private stopWorker(w: Worker, reason: string): void {
    this.stopping.add(w);
    if (this.workers.get(w.fragment) === w) this.workers.delete(w.fragment);
    void w.stop(reason);
  }

  state(): unknown {
    const breakers = Object.fromEntries(
      Object.keys(this.a.cfg.pool.workers).map((p) => [
        p,
        {
          state: this.guard.state(p),
          failures: this.guard.failures(p),
          ...(this.guard.refusing(p)
            ? { retry_after_s: this.guard.retryAfter_s(p), last_failure: this.guard.lastReason(p) }
            : {}),
        },
      ]),
    );
    return {
      workers: [...this.workers.values()].map((w) => ({
        fragment: w.fragment,
        profile: w.profile,
        pid: w.pid,
        state: w.state,
      })),
      held_starts: this.held.size,
      breakers,
      pending: this.pending.size,
      served: this.served,
      predictor: this.forecasts.state(),
    };
  }

  /** Answer every waiting client first (503), then stop every worker, including those already stopping, so none exits after the journal closes. */
  async stop(): Promise<void> {
    this.closing = true;
    this.forecasts.stop();
    for (const t of this.wakeups.values()) clearTimeout(t);
    this.wakeups.clear();
    this.held.clear();
    for (const p of this.pending.values())
      this.answer(p, { status: 503, body: { error: 'agent stopping', request_id: p.request.id, retry_after_s: 1 } });
    const all = [...this.workers.values(), ...this.stopping];
    await Promise.all(
      all.map((w) => {
        this.stopping.add(w);
        return w.stop('agent stopping');
      }),
    );
    this.workers.clear();
    this.demand.close(this.a.now());
    this.closed = true;
  }
}
