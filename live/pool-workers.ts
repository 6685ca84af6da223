/**
 * Pool mode's worker processes: launched from the commands the config names (never anything
 * else), stopped, restarted and re-pinned as the engine's commands say, each recorded in the
 * ownership ledger while it runs. What they answer (ready, results, calls) goes to pool mode
 * (live/pool-mode.ts), which hands them requests.
 *
 * Starts go through a StartGuard (live/start-guard.ts): a command that cannot start is retried
 * with exponential backoff, and after a few failures in a row its profile's requests are answered
 * 503 with a retry-after at once, instead of thousands of spawns a second.
 */
import type { Command, Observation } from '../engine/types.ts';
import type { ModeHost } from './mode.ts';
import { readPidStatus } from './proc-pid.ts';
import { processStart } from './selectors.ts';
import { StartGuard } from './start-guard.ts';
import type { WorkerCall } from './worker-protocol.ts';
import { Worker, type WorkerExit, type WorkerResult } from './workers.ts';

/** What pool mode hears of its workers. */
export interface WorkerEvents {
  /** A worker is ready and the engine told: hand it its request. */
  ready(fragment: string): void;
  result(w: Worker, r: WorkerResult): void;
  call(w: Worker, c: WorkerCall): void;
  /** A worker exited (expected or not): its calls in flight are over. */
  exited(fragment: string): void;
  /** Too many start failures of `profile` in a row: its waiting requests are to be answered 503. */
  circuitOpen(profile: string): void;
}

/** The commands that start, stop or move a worker. */
export type WorkerCommand = Extract<Command, { type: 'start' | 'restart' | 'stop' | 'pin' | 'migrate' }>;

export class PoolWorkers {
  private readonly workers = new Map<string, Worker>();
  /** Workers we stopped: their exit is expected, not a failure. */
  private readonly stopping = new Set<Worker>();
  /** Start time (/proc/PID/stat field 22) of each worker, as recorded in the ownership ledger. */
  private readonly starts = new Map<Worker, number>();
  /** Fragment → profile: starts the guard holds back, launched when it allows. */
  private readonly held = new Map<string, string>();
  /** Profile → timer that launches its held starts. */
  private readonly wakeups = new Map<string, NodeJS.Timeout>();
  readonly guard: StartGuard;
  /** stop() has begun: no more starts, nothing more told to the engine about exits. */
  closing = false;
  /** Pool mode's stop() is done and the journal may be closed: worker events change nothing any more. */
  closed = false;

  constructor(
    private readonly h: ModeHost,
    private readonly events: WorkerEvents,
  ) {
    this.guard = new StartGuard(h.cfg.pool.start_backoff, () => h.now());
  }

  get(fragment: string): Worker | undefined {
    return this.workers.get(fragment);
  }

  /** Each turn: workers ready long enough close their profile's breaker. */
  beforeTick(): void {
    const now = performance.now();
    for (const w of this.workers.values())
      if (w.readySince_ms !== undefined) this.guard.running(w.profile, now - w.readySince_ms);
  }

  /** Heartbeat and RSS of every running worker, for the engine's health checks. */
  fragmentObservations(t_ms: number): Observation['fragments'] {
    const out: NonNullable<Observation['fragments']> = [];
    for (const [id, w] of this.workers) {
      if (w.pid === undefined || this.stopping.has(w)) continue;
      const f: NonNullable<Observation['fragments']>[number] = {
        id,
        heartbeat_ms: Math.min(t_ms, this.h.agentMs(w.lastHeartbeat_ms)),
      };
      try {
        const s = readPidStatus(this.h.roots, w.pid);
        if (!s.gone && s.value.vm_rss_kb !== undefined) f.rss_kb = s.value.vm_rss_kb;
      } catch {
        /* unreadable status: no RSS this tick */
      }
      out.push(f);
    }
    return out;
  }

  command(c: WorkerCommand, obs: Observation): void {
    switch (c.type) {
      case 'start':
        return this.spawn(c.fragment, c.profile, c.node, c.cpus, obs);
      case 'restart': {
        const old = this.workers.get(c.fragment);
        if (old) this.stopWorker(old, c.reason);
        return this.spawn(c.fragment, c.profile, c.node, c.cpus, obs);
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
        this.h.steps(
          c.type === 'pin'
            ? this.h.executor.pin(c.fragment, [pid], c.node, c.cpus)
            : this.h.executor.migrate(c.fragment, [pid], c.from, c.to, c.cpus),
          obs.t_ms,
        );
        return;
      }
    }
  }

  /** Start a worker for the fragment now, or hold the start until the guard allows it. */
  private spawn(fragment: string, profile: string, node: number, cpus: readonly number[], obs: Observation): void {
    if (this.closing) return;
    if (!this.h.cfg.pool.workers[profile]) {
      this.h.act((e) => e.failed(fragment, `no worker command for profile ${profile}`, obs), obs);
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

  /** Spawn the worker (its profile has a command: spawn() checked) and pin it. */
  private launch(fragment: string, profile: string, node: number, cpus: readonly number[], t_ms: number): void {
    const spec = this.h.cfg.pool.workers[profile];
    if (!spec) return;
    this.guard.began(profile);
    const w = Worker.spawn(fragment, profile, spec, {
      ready: () => this.ready(w),
      heartbeat: () => {},
      result: (_w, r) => this.events.result(w, r),
      call: (_w, c) => this.events.call(w, c),
      exit: (_w, how) => this.exited(w, how),
      protocolError: (_w, problem) => this.h.log(`worker ${fragment}: protocol error: ${problem}`),
      stderr: (_w, line) => this.h.log(`worker ${fragment}: ${line}`),
    });
    this.workers.set(fragment, w);
    if (w.pid === undefined) return;
    const starttime = processStart(this.h.roots, w.pid); // undefined: already gone (`exit` follows)
    if (starttime !== undefined) {
      this.starts.set(w, starttime);
      this.h.owned.addWorker({ pid: w.pid, starttime, fragment, profile });
    }
    this.h.steps(this.h.executor.pin(fragment, [w.pid], node, cpus), t_ms);
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
      const f = this.h.engine.pools.get(fragment);
      if (f?.state === 'starting' && !this.workers.has(fragment))
        this.launch(fragment, profile, f.node, f.cpus, this.h.now());
    }
  }

  private ready(w: Worker): void {
    if (this.closing || this.workers.get(w.fragment) !== w) return;
    this.guard.ready(w.profile);
    const obs = this.h.observationNow();
    if (this.h.engine.pools.get(w.fragment)?.state === 'starting') this.h.act((e) => e.started(w.fragment, obs), obs);
    this.events.ready(w.fragment);
    this.launchHeld(w.profile);
  }

  private exited(w: Worker, how: WorkerExit): void {
    const starttime = this.starts.get(w);
    this.starts.delete(w);
    if (starttime !== undefined && w.pid !== undefined) this.h.owned.removeWorker(w.pid, starttime);
    if (this.closed) return; // after stop(): the journal may be closed, the engine is done
    const expected = this.stopping.delete(w);
    this.events.exited(w.fragment);
    if (this.workers.get(w.fragment) === w) this.workers.delete(w.fragment);
    const obs = this.h.observationNow();
    if (!expected && !this.closing) {
      this.startFailure(w, how);
      if (this.h.engine.pools.get(w.fragment)) this.h.act((e) => e.failed(w.fragment, how.reason, obs), obs);
    }
    if (!this.workers.has(w.fragment)) this.h.removeGroup(w.fragment, obs.t_ms);
  }

  /** An unexpected exit before the worker proved itself (ready for stable_ms): logged with its reason and counted by the guard. */
  private startFailure(w: Worker, how: WorkerExit): void {
    if (how.ready_ms !== undefined && how.ready_ms >= this.guard.cfg.stable_ms) return; // it served: a crash, the engine's to heal
    const r = this.guard.failed(w.profile, how.reason);
    const what =
      how.ready_ms === undefined ? 'failed to start' : `died ${Math.round(how.ready_ms)} ms after its ready line`;
    const line = `worker ${w.fragment} (profile ${w.profile}) ${what}: ${how.reason}; ${r.failures} start failure(s) in a row, next start of ${w.profile} in ${(r.delay_ms / 1000).toFixed(1)} s`;
    this.h.log(line);
    this.h.note(this.h.now(), 'error', line);
    if (!r.opened) return;
    this.h.log(
      `circuit open for profile ${w.profile} after ${r.failures} start failures in a row: its requests are answered 503 (retry after ${this.guard.retryAfter_s(w.profile)} s) until a worker starts`,
    );
    this.events.circuitOpen(w.profile);
  }

  private stopWorker(w: Worker, reason: string): void {
    this.stopping.add(w);
    if (this.workers.get(w.fragment) === w) this.workers.delete(w.fragment);
    void w.stop(reason);
  }

  state(): { workers: unknown[]; held_starts: number; breakers: Record<string, unknown> } {
    const breakers = Object.fromEntries(
      Object.keys(this.h.cfg.pool.workers).map((p) => [
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
    };
  }

  /** No more starts; stop every worker, including those already stopping, so none exits after the journal closes. */
  async stop(): Promise<void> {
    this.closing = true;
    for (const t of this.wakeups.values()) clearTimeout(t);
    this.wakeups.clear();
    this.held.clear();
    const all = [...this.workers.values(), ...this.stopping];
    await Promise.all(
      all.map((w) => {
        this.stopping.add(w);
        return w.stop('agent stopping');
      }),
    );
    this.workers.clear();
  }
}
