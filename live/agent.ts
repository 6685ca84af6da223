/**
 * The live agent: the same engine as the twin, wired to this host. One loop turn = sample the host
 * (live/sampler.ts), let the mode do its part (adopt: notice exits, scan for new processes; pool:
 * ask the demand predictor once per scaling interval), the engine's periodic tick (pool mode hands
 * it the newest demand predictions), carry out the commands, flush the journal.
 * Turns run every `interval_ms` and at once when a PSI trigger fires, so pressure is acted on
 * within one trigger window rather than one polling interval.
 *
 * Everything the engine sees and says goes through the JournaledEngine (live/port.ts); the journal
 * is flushed (one fsync) at the end of each turn and before an API answer leaves, so a decision a
 * client has seen survives kill -9. The modes use the agent only as their host (live/mode.ts).
 */
import { basename } from 'node:path';
import type { EngineCalls } from '../engine/port.ts';
import type { Command, Observation } from '../engine/types.ts';
import type { TopologyJson } from '../engine/topology.ts';
import type { StreamMessage } from '../serve/stream-message.ts';
import type { ScheduleBody } from '../serve/schedule-body.ts';
import type { LiveConfig } from './config.ts';
import { CpusetGroups, detectCpusetBackend } from './enforce.ts';
import { Executor, type Step } from './executor.ts';
import { Journal } from './journal.ts';
import { AgentMetrics } from '../serve/metrics.ts';
import { checkStateDir, OwnedLedger } from './ownership.ts';
import type { Mode, ModeHost } from './mode.ts';
import { JournaledEngine, type CallResult } from './port.ts';
import type { HostRoots } from '../formats/host/roots.ts';
import { hostMems, hostTopology } from './host-facts.ts';
import { HostSampler } from './sampler.ts';
import { availability, PsiTrigger } from './triggers.ts';
import { AdoptMode } from './adopt-mode.ts';
import { PoolMode } from './pool-mode.ts';

export interface AgentOptions {
  config: LiveConfig;
  roots: HostRoots;
  enforce: boolean;
  version: string;
  log: (line: string) => void;
  /** Topology override (tests: a two-node description of this host); default: read from roots. */
  topology?: TopologyJson;
}

/** Turns a group removal is retried while exiting threads hold it (≈ a minute at a 1 s tick). */
const REMOVE_ATTEMPTS = 60;

export class Agent implements ModeHost {
  readonly cfg: LiveConfig;
  readonly roots: HostRoots;
  readonly metrics = new AgentMetrics();
  readonly journal: Journal;
  readonly engine: JournaledEngine;
  readonly executor: Executor;
  readonly sampler: HostSampler;
  readonly topology: TopologyJson;
  readonly mode: Mode;
  /** What this agent (and the runs before it) started or created: the only things it may signal, move or remove. */
  readonly owned: OwnedLedger;
  readonly warnings: string[] = [];
  private readonly t0 = performance.now();
  private readonly listeners = new Set<(m: StreamMessage) => void>();
  private readonly triggers: PsiTrigger[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastObs: Observation | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private flushQueued = false;
  turns = 0;
  /** Wall time of each turn (sample → journal flush), ms; the last 1,000, for the benchmark. */
  readonly turn_ms: number[] = [];
  triggerEvents = 0;
  /** Trigger event → end of the turn it caused, ms (the last one), for state and the benchmark. */
  lastTriggerReaction_ms: number | undefined;
  private pendingTrigger_ms: number | undefined;
  /** Groups whose removal waits for exiting threads, with the attempts so far. */
  private readonly pendingRemovals = new Map<string, number>();

  constructor(readonly o: AgentOptions) {
    this.cfg = o.config;
    this.roots = o.roots;
    checkStateDir(this.cfg.state_dir);
    this.owned = OwnedLedger.open(this.cfg.state_dir, (m) => this.warn(m));
    this.topology = o.topology ?? hostTopology(o.roots);
    this.sampler = new HostSampler(o.roots, this.topology);
    const backend = detectCpusetBackend(o.roots);
    let groups: CpusetGroups | undefined;
    if (backend.kind === 'none') this.warn(`no cpuset hierarchy to enforce with (${backend.reason}); affinity only`);
    else
      groups = new CpusetGroups({
        roots: o.roots,
        backend,
        base: this.cfg.cgroup_parent,
        dryRun: !o.enforce,
        owned: this.owned,
      });
    this.executor = new Executor({
      groups,
      enforce: o.enforce,
      hostMems: hostMems(groups, this.topology),
      migrateMemory: this.cfg.migrate_memory,
      procRoot: o.roots.proc,
    });
    this.journal = Journal.open(`${this.cfg.state_dir}/journal`, {
      ...this.cfg.journal,
      log: (line) => this.log(line),
    });
    this.engine = new JournaledEngine(
      {
        type: 'start',
        epoch: Number(basename(this.journal.segment, '.jsonl')),
        wall_ms: Date.now(),
        version: o.version,
        mode: this.cfg.mode,
        seed: this.cfg.seed,
        config: this.cfg.engine,
        topology: this.topology,
      },
      this.journal,
      (r) => this.called(r),
    );
    this.mode = this.cfg.mode === 'adopt' ? new AdoptMode(this, groups) : new PoolMode(this, groups);
  }

  /** ms since the agent started: the engine's clock (monotonic; journalled with every observation). */
  now(): number {
    return Math.round(performance.now() - this.t0);
  }

  /** A performance.now() reading on the agent's clock. */
  agentMs(perf_ms: number): number {
    return Math.max(0, Math.round(perf_ms - this.t0));
  }

  log(line: string): void {
    this.o.log(line);
  }

  warn(text: string): void {
    if (this.warnings.includes(text)) return;
    this.warnings.push(text);
    this.log(`warning: ${text}`);
    this.publish({ type: 'event', t_ms: this.now(), level: 'warn', text });
  }

  /** The last sample with the clock moved on: what API calls and worker events are decided on. */
  observationNow(): Observation {
    const t = this.now();
    const last = this.lastObs as Observation;
    if (last.t_ms !== t) this.lastObs = { ...last, t_ms: t };
    return this.lastObs as Observation;
  }

  /** Every engine call, once journalled: a refusal is logged and noted, a decision counted and published. */
  private called(r: CallResult): void {
    if ('error' in r) {
      this.log(`engine refused ${r.op}: ${r.error}`);
      this.engine.note(r.obs.t_ms, 'error', `engine ${r.op}: ${r.error}`);
    } else if ('decision' in r) {
      this.metrics.observeDecision(r.decision, r.elapsed_s);
      this.publish({ type: 'decision', decision: r.decision });
    }
    this.queueFlush();
  }

  act(call: (engine: EngineCalls) => Command[], obs: Observation): void {
    let commands: Command[];
    try {
      commands = call(this.engine);
    } catch {
      return; // journalled and logged as the call's result (called above)
    }
    this.run(commands, obs);
  }

  note(t_ms: number, level: 'info' | 'warn' | 'error', text: string, data?: unknown): void {
    this.engine.note(t_ms, level, text, data);
  }

  flush(): void {
    this.journal.flush();
  }

  observeRequest(profile: string, ok: boolean, seconds: number): void {
    this.metrics.observeRequest(profile, ok, seconds);
  }

  /** Carry out commands in order; each is journalled as a note with its steps. */
  run(commands: readonly Command[], obs: Observation): void {
    if (commands.length === 0) return;
    this.metrics.observeCommands(commands);
    for (const c of commands) {
      this.publish({ type: 'command', t_ms: obs.t_ms, command: c });
      this.mode.command(c, obs);
    }
  }

  /** Remove a fragment's cpuset group, now or — while its exiting threads still hold it — at later turns. */
  removeGroup(fragment: string, t_ms: number): void {
    const steps = this.executor.remove(fragment);
    if (steps.some((s) => s.retry)) {
      this.pendingRemovals.set(fragment, (this.pendingRemovals.get(fragment) ?? 0) + 1);
      // A group still busy after a minute of turns is a real problem: report it then.
      if ((this.pendingRemovals.get(fragment) as number) < REMOVE_ATTEMPTS) {
        this.engine.note(t_ms, 'info', `group ${fragment} still holds exiting threads; removal retried next turn`);
        return;
      }
      for (const s of steps) delete s.retry;
    }
    this.pendingRemovals.delete(fragment);
    this.steps(steps, t_ms);
  }

  /** Journal and count executor steps; failed steps other than a vanished process are enforcement errors. */
  steps(steps: readonly Step[], t_ms: number): void {
    for (const s of steps) {
      if (!s.ok && !s.gone && !s.retry) {
        this.metrics.enforcementError(s.op);
        this.log(`enforcement error: ${s.op} ${s.fragment}${s.pid ? ` pid ${s.pid}` : ''}: ${s.error}`);
      }
    }
    if (steps.length)
      this.engine.note(
        t_ms,
        steps.every((s) => s.ok || s.gone) ? 'info' : 'error',
        this.o.enforce ? 'enforced' : 'dry run: would do',
        steps,
      );
    if (!this.o.enforce) for (const s of steps) this.log(`dry run: would ${s.detail}`);
  }

  publish(m: StreamMessage): void {
    for (const l of this.listeners) l(m);
  }

  subscribe(listener: (m: StreamMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Flush the journal once per event-loop turn however many calls it made (group commit). */
  queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (!this.stopped) this.journal.flush(); // stop() flushed on close
    });
  }

  /** First sample, recovery, triggers, the loop. */
  start(): void {
    const obs = this.sample();
    if (this.sampler.psiAvailable === false)
      this.warn(this.sampler.warnings[0] ?? 'no PSI on this kernel: degraded mode on load figures');
    this.mode.recover(obs);
    this.armTriggers();
    this.turn();
    this.timer = setInterval(() => this.turn(), this.cfg.interval_ms);
  }

  private sample(): Observation {
    const t = this.now();
    const obs = this.sampler.sample(t);
    const frags = this.mode?.fragmentObservations(t);
    if (frags?.length) obs.fragments = frags;
    for (const w of this.sampler.warnings) this.warn(w);
    this.lastObs = obs;
    this.metrics.observeSample(obs);
    this.publish({ type: 'sample', t_ms: t, psi: obs.psi, ...(obs.nodes ? { nodes: obs.nodes } : {}) });
    return obs;
  }

  private armTriggers(): void {
    if (this.cfg.triggers.length === 0) return;
    const a = availability(this.o.roots);
    if (!a.available) {
      this.warn(`${a.reason}; sampling every ${this.cfg.interval_ms} ms instead`);
      return;
    }
    for (const t of this.cfg.triggers) {
      try {
        this.triggers.push(
          PsiTrigger.open(this.o.roots, t.resource, t.line, t.stall_us, t.window_us, {
            settleMs: 2 * (t.window_us / 1000) + 2000,
            onEvent: () => {
              this.triggerEvents++;
              this.pendingTrigger_ms ??= performance.now();
              this.turn();
            },
            onError: (e) => this.warn(`PSI trigger ${t.resource} ${t.line} stopped: ${e.message}`),
          }),
        );
      } catch (e) {
        this.warn(
          `PSI trigger ${t.resource} ${t.line} ${t.stall_us} ${t.window_us}: ${(e as Error).message}; sampling instead`,
        );
      }
    }
  }

  /** One loop turn; a turn asked for while one runs is run once right after. */
  turn(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        const t0 = performance.now();
        const obs = this.sample();
        for (const f of [...this.pendingRemovals.keys()]) this.removeGroup(f, obs.t_ms);
        this.mode.beforeTick(obs);
        this.act((e) => e.tick(obs, this.mode.predictions?.()), obs);
        this.metrics.observeStatus(this.engine.status());
        this.journal.flush();
        this.turns++;
        if (this.turn_ms.push(performance.now() - t0) > 1_000) this.turn_ms.shift();
        if (this.pendingTrigger_ms !== undefined) {
          this.lastTriggerReaction_ms = performance.now() - this.pendingTrigger_ms;
          this.pendingTrigger_ms = undefined;
        }
      } while (this.again && !this.stopped);
    } catch (e) {
      this.log(`error in agent turn: ${(e as Error).stack ?? e}`);
      this.engine.note(this.now(), 'error', `agent turn: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /**
   * While the journal cannot write (disk full, I/O errors) no new work is admitted: a decision
   * that cannot be made durable is not made. The journal retries at every turn's flush, so the
   * client is told to come back after about one turn.
   */
  schedule(body: ScheduleBody): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const trouble = this.journal.degraded;
    if (!trouble) return this.mode.schedule(body);
    const retry_after_s = Math.max(1, Math.ceil(this.cfg.interval_ms / 1000));
    return Promise.resolve({
      status: 503,
      body: { error: `journal cannot write: ${trouble.code}`, file: trouble.file, retry_after_s },
      headers: { 'Retry-After': String(retry_after_s) },
    });
  }

  state(): unknown {
    return {
      mode: this.cfg.mode,
      enforce: this.o.enforce,
      t_ms: this.now(),
      turns: this.turns,
      psi_available: this.sampler.psiAvailable !== false,
      triggers: this.triggers.map((t) => ({ file: t.file, spec: t.spec, closed: t.closed })),
      trigger_events: this.triggerEvents,
      last_trigger_reaction_ms: this.lastTriggerReaction_ms,
      journal: {
        dir: this.journal.dir,
        segment: this.journal.segment,
        entries: this.journal.entries,
        batches: this.journal.batches,
        degraded: this.journal.degraded ?? null,
      },
      warnings: this.warnings,
      engine: this.engine.status(),
      [this.cfg.mode]: this.mode.state(),
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.triggers.map((t) => t.close()));
    await this.mode.stop();
    this.journal.close();
  }
}
