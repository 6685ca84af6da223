/**
 * The live shell's one door into the engine. Every call goes through `JournaledEngine.call`, which
 * journals the observation it was made with (once per observation object), the call's arguments
 * and its result — so `replay` can rebuild the engine from the journal alone and check that it
 * makes the same decisions, byte for byte. An engine exception is journalled as the call's result
 * too: a replay must throw the same. The replay itself is in replay.ts.
 */
import type { Config } from '../engine/config.ts';
import type { Adoption } from '../engine/adoption.ts';
import { Orchestrator } from '../engine/orchestrator.ts';
import { buildTopology, type TopologyJson } from '../engine/topology.ts';
import type { Observation, Outcome, Prediction, Request } from '../engine/types.ts';

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

/** Run one engine call; exceptions become `{ error }` so they compare like results. */
export function applyCall(o: Orchestrator, op: EngineOp, args: readonly unknown[], obs: Observation): unknown {
  try {
    switch (op) {
      case 'schedule':
        return o.schedule(args[0] as Request, obs);
      case 'adopt':
        return o.adopt(args[0] as Adoption, obs);
      case 'release':
        return o.release(args[0] as string, args[1] as string, obs);
      case 'tick':
        return o.tick(obs, args[0] as Prediction[] | undefined);
      case 'started':
        return o.started(args[0] as string, obs);
      case 'complete':
        return o.complete(args[0] as string, args[1] as Outcome, obs);
      case 'failed':
        return o.failed(args[0] as string, args[1] as string, obs);
      case 'calling':
        return o.calling(args[0] as string, obs);
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export class JournaledEngine {
  readonly engine: Orchestrator;
  private lastObs: Observation | undefined;
  private obsN = 0;

  constructor(
    readonly header: Extract<JournalEntry, { type: 'start' }>,
    private readonly sink: JournalSink,
  ) {
    this.engine = new Orchestrator({
      config: header.config,
      topology: buildTopology(header.topology),
      seed: header.seed,
    });
    sink.append(header);
  }

  /** Call the engine and journal the call. Results are the engine's own objects (do not mutate). */
  call(op: EngineOp, args: unknown[], obs: Observation): unknown {
    if (obs !== this.lastObs) {
      this.lastObs = obs;
      this.sink.append({ type: 'obs', n: ++this.obsN, obs });
    }
    const out = applyCall(this.engine, op, args, obs);
    this.sink.append({ type: 'call', op, obs: this.obsN, args, out });
    return out;
  }

  note(t_ms: number, level: 'info' | 'warn' | 'error', text: string, data?: unknown): void {
    this.sink.append(
      data === undefined ? { type: 'note', t_ms, level, text } : { type: 'note', t_ms, level, text, data },
    );
  }
}
