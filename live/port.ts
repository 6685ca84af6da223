/**
 * The live shell's one door into the engine: a JournaledEngine is the engine's port
 * (engine/port.ts) with every state-changing call journalled — the observation it was made with
 * (once per observation object), its arguments and its result in recorded form
 * (engine/record.ts) — so `replay` can rebuild the engine from the journal alone and check that it
 * makes the same decisions, byte for byte. An engine exception is journalled as the call's result
 * too (a replay must throw the same) and then thrown on, as the engine itself throws it. The
 * replay itself is in replay.ts.
 */
import type { Config } from '../engine/config.ts';
import type { Adoption } from '../engine/adoption.ts';
import { Orchestrator } from '../engine/orchestrator.ts';
import type { EnginePort, EngineView } from '../engine/port.ts';
import { recordedCommands, recordedDecision } from '../engine/record.ts';
import type { Status } from '../engine/status.ts';
import { buildTopology, type TopologyJson } from '../engine/topology.ts';
import type { Command, Decision, Observation, Outcome, Prediction, Request } from '../engine/types.ts';

export const ENGINE_OPS = ['schedule', 'adopt', 'release', 'tick', 'started', 'complete', 'failed', 'calling'] as const;
export type EngineOp = (typeof ENGINE_OPS)[number];

/** What the journal holds; `start` opens an epoch (one agent run, one engine). */
export type JournalEntry =
  | {
      type: 'start';
      epoch: number;
      wall_ms: number;
      version: string;
      mode: 'adopt' | 'pool';
      seed: string;
      config: Config;
      topology: TopologyJson;
    }
  | { type: 'obs'; n: number; obs: Observation }
  | { type: 'call'; op: EngineOp; obs: number; args: unknown[]; out: unknown }
  | { type: 'note'; t_ms: number; level: 'info' | 'warn' | 'error'; text: string; data?: unknown }
  /** Written by the journal itself: entries it had to drop while the disk refused them. */
  | { type: 'gap'; lost_entries: number };

export interface JournalSink {
  append(entry: object): void;
}

/** What became of one call, for the agent's metrics and log. */
export type CallResult = { op: EngineOp; obs: Observation; elapsed_s: number } & (
  | { decision: Decision }
  | { commands: Command[] }
  | { error: string }
);

export class JournaledEngine implements EnginePort {
  /** The engine itself, for tests that inspect it; shells call the methods below, which journal. */
  readonly engine: Orchestrator;
  private lastObs: Observation | undefined;
  private obsN = 0;

  constructor(
    readonly header: Extract<JournalEntry, { type: 'start' }>,
    private readonly sink: JournalSink,
    /** Told of every call once it is journalled. */
    private readonly called: (r: CallResult) => void = () => {},
  ) {
    this.engine = new Orchestrator({
      config: header.config,
      topology: buildTopology(header.topology),
      seed: header.seed,
    });
    sink.append(header);
  }

  schedule(request: Request, obs: Observation): Decision {
    return this.call('schedule', [request], obs, () => this.engine.schedule(request, obs));
  }

  adopt(a: Adoption, obs: Observation): Decision {
    return this.call('adopt', [a], obs, () => this.engine.adopt(a, obs));
  }

  release(id: string, reason: string, obs: Observation): Command[] {
    return this.call('release', [id, reason], obs, () => this.engine.release(id, reason, obs));
  }

  tick(obs: Observation, predictions?: readonly Prediction[]): Command[] {
    const args = predictions === undefined ? [] : [predictions];
    return this.call('tick', args, obs, () => this.engine.tick(obs, predictions));
  }

  started(id: string, obs: Observation): Command[] {
    return this.call('started', [id], obs, () => this.engine.started(id, obs));
  }

  complete(id: string, outcome: Outcome, obs: Observation): Command[] {
    return this.call('complete', [id, outcome], obs, () => this.engine.complete(id, outcome, obs));
  }

  failed(id: string, reason: string, obs: Observation): Command[] {
    return this.call('failed', [id, reason], obs, () => this.engine.failed(id, reason, obs));
  }

  calling(id: string, obs: Observation): Command[] {
    return this.call('calling', [id], obs, () => this.engine.calling(id, obs));
  }

  status(): Status {
    return this.engine.status();
  }

  incidents(): ReturnType<EngineView['incidents']> {
    return this.engine.incidents();
  }

  outageList(): ReturnType<EngineView['outageList']> {
    return this.engine.outageList();
  }

  get pools(): EngineView['pools'] {
    return this.engine.pools;
  }

  note(t_ms: number, level: 'info' | 'warn' | 'error', text: string, data?: unknown): void {
    this.sink.append(
      data === undefined ? { type: 'note', t_ms, level, text } : { type: 'note', t_ms, level, text, data },
    );
  }

  /** Journal the observation (when new), run the call, journal it with its recorded result or its error. */
  private call<T extends Decision | Command[]>(op: EngineOp, args: unknown[], obs: Observation, run: () => T): T {
    const t0 = performance.now();
    if (obs !== this.lastObs) {
      this.lastObs = obs;
      this.sink.append({ type: 'obs', n: ++this.obsN, obs });
    }
    let out: T;
    try {
      out = run();
    } catch (e) {
      const error = (e as Error).message;
      this.sink.append({ type: 'call', op, obs: this.obsN, args, out: { error } });
      this.called({ op, obs, elapsed_s: (performance.now() - t0) / 1000, error });
      throw e;
    }
    const o: Decision | Command[] = out;
    this.sink.append({
      type: 'call',
      op,
      obs: this.obsN,
      args,
      out: Array.isArray(o) ? recordedCommands(o) : recordedDecision(o),
    });
    const elapsed_s = (performance.now() - t0) / 1000;
    this.called(Array.isArray(o) ? { op, obs, elapsed_s, commands: o } : { op, obs, elapsed_s, decision: o });
    return out;
  }
}
