/**
 * The agent's two modes (adopt: live/adopt-mode.ts, pool: live/pool-mode.ts) and what they may use
 * of the agent: the host. A mode sees the agent only through `ModeHost`, so the modes depend on
 * this file and the agent on them, never both ways.
 */
import type { EngineCalls, EnginePort } from '../engine/port.ts';
import type { TopologyJson } from '../engine/topology.ts';
import type { Command, Observation, Prediction } from '../engine/types.ts';
import type { HostRoots } from '../formats/host/roots.ts';
import type { ScheduleBody } from '../serve/schedule-body.ts';
import type { LiveConfig } from './config.ts';
import type { Executor, Step } from './executor.ts';
import type { OwnedLedger } from './ownership.ts';

export type Answer = { status: number; body: unknown };

/** What a mode (adopt or pool) does inside the agent's loop. */
export interface Mode {
  /** At start: take back what a previous run left (re-adopt, or clean up orphaned workers). */
  recover(obs: Observation): void;
  /** Before the engine's tick: the mode's own observations and calls. */
  beforeTick(obs: Observation): void;
  /** Demand predictions for this turn's tick, when fresh ones arrived (pool mode). */
  predictions?(): Prediction[] | undefined;
  /** Per-fragment health the engine should see (pool mode: heartbeats, RSS). */
  fragmentObservations(t_ms: number): Observation['fragments'];
  /** Carry out one engine command; a type this mode has nothing to do for is ignored. */
  command(c: Command, obs: Observation): void;
  schedule(body: ScheduleBody): Promise<Answer>;
  state(): unknown;
  stop(): Promise<void>;
}

/** What a mode may use of the agent. */
export interface ModeHost {
  readonly cfg: LiveConfig;
  readonly roots: HostRoots;
  readonly topology: TopologyJson;
  /** The journalled engine (live/port.ts): a refused call throws, once journalled and logged. */
  readonly engine: EnginePort;
  readonly executor: Executor;
  /** What this agent (and the runs before it) started or created: the only things it may signal, move or remove. */
  readonly owned: OwnedLedger;
  /** ms since the agent started: the engine's clock. */
  now(): number;
  /** A performance.now() reading on the agent's clock. */
  agentMs(perf_ms: number): number;
  /** The last sample with the clock moved on: what API calls and worker events are decided on. */
  observationNow(): Observation;
  log(line: string): void;
  /** Logged, published and kept in the state, once per text. */
  warn(text: string): void;
  /** A journal note. */
  note(t_ms: number, level: 'info' | 'warn' | 'error', text: string, data?: unknown): void;
  /** Call the engine and carry out the commands it answers; a refusal (journalled and logged) carries out nothing. */
  act(call: (engine: EngineCalls) => Command[], obs: Observation): void;
  /** Carry out commands in order (the mode's `command` for each), counted and published. */
  run(commands: readonly Command[], obs: Observation): void;
  /** Journal and count executor steps. */
  steps(steps: readonly Step[], t_ms: number): void;
  /** Remove a fragment's cpuset group, now or at later turns while exiting threads hold it. */
  removeGroup(fragment: string, t_ms: number): void;
  /** Make the journal durable: before an answer leaves, the decision it carries is on disk. */
  flush(): void;
  /** A request answered by a worker, for the metrics. */
  observeRequest(profile: string, ok: boolean, seconds: number): void;
}
