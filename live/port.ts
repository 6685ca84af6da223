/**
 * The live shell's one door into the engine. Every call goes through `JournaledEngine.call`, which
 * journals the observation it was made with (once per observation object), the call's arguments
 * and its result — so `replay` can rebuild the engine from the journal alone and check that it
 * makes the same decisions, byte for byte. An engine exception is journalled as the call's result
 * too: a replay must throw the same.
 */
import { parseConfig, type Config } from '../engine/config.ts';
import type { Adoption } from '../engine/adoption.ts';
import { Orchestrator } from '../engine/orchestrator.ts';
import { buildTopology, type TopologyJson } from '../engine/topology.ts';
import type { Observation, Outcome, Prediction, Request } from '../engine/types.ts';

export const ENGINE_OPS = ['schedule', 'adopt', 'release', 'tick', 'started', 'complete', 'failed'] as const;
export type EngineOp = (typeof ENGINE_OPS)[number];

/** What the journal holds; `start` opens an epoch (one agent run, one engine). */
export type JournalEntry =
  | { type: 'start'; epoch: number; wall_ms: number; version: string; mode: 'adopt' | 'pool'; seed: string; config: Config; topology: TopologyJson }
  | { type: 'obs'; n: number; obs: Observation }
  | { type: 'call'; op: EngineOp; obs: number; args: unknown[]; out: unknown }
  | { type: 'note'; t_ms: number; level: 'info' | 'warn' | 'error'; text: string; data?: unknown };

export interface JournalSink {
  append(entry: object): void;
}

/** Run one engine call; exceptions become `{ error }` so they compare like results. */
export function applyCall(o: Orchestrator, op: EngineOp, args: readonly unknown[], obs: Observation): unknown {
  try {
    switch (op) {
      case 'schedule': return o.schedule(args[0] as Request, obs);
      case 'adopt': return o.adopt(args[0] as Adoption, obs);
      case 'release': return o.release(args[0] as string, args[1] as string, obs);
      case 'tick': return o.tick(obs, args[0] as Prediction[] | undefined);
      case 'started': return o.started(args[0] as string, obs);
      case 'complete': return o.complete(args[0] as string, args[1] as Outcome, obs);
      case 'failed': return o.failed(args[0] as string, args[1] as string, obs);
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export class JournaledEngine {
  readonly engine: Orchestrator;
  private lastObs: Observation | undefined;
  private obsN = 0;

  constructor(readonly header: Extract<JournalEntry, { type: 'start' }>, private readonly sink: JournalSink) {
    this.engine = new Orchestrator({ config: header.config, topology: buildTopology(header.topology), seed: header.seed });
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
    this.sink.append(data === undefined ? { type: 'note', t_ms, level, text } : { type: 'note', t_ms, level, text, data });
  }
}

export interface ReplayDifference {
  epoch: number;
  /** 1-based index of the call within its epoch. */
  call: number;
  op: EngineOp;
  expected: string;
  got: string;
}

export interface ReplayReport {
  epochs: number;
  calls: number;
  decisions: number;
  differences: ReplayDifference[];
  problems: string[];
}

/**
 * Re-run every epoch's calls on a fresh engine built from the epoch's header and compare results
 * as JSON text. Entries before the first header (their segment was rotated away) are skipped and
 * reported: an engine cannot be rebuilt from the middle of its history.
 */
export function replay(entries: readonly unknown[]): ReplayReport {
  const r: ReplayReport = { epochs: 0, calls: 0, decisions: 0, differences: [], problems: [] };
  let engine: Orchestrator | undefined;
  let epoch = 0, callN = 0, skipped = 0;
  const observations = new Map<number, Observation>();
  for (const raw of entries) {
    const e = raw as JournalEntry;
    if (e.type === 'start') {
      engine = new Orchestrator({ config: parseConfig(e.config), topology: buildTopology(e.topology), seed: e.seed });
      epoch = e.epoch;
      callN = 0;
      observations.clear();
      r.epochs++;
    } else if (!engine) {
      if (e.type === 'obs' || e.type === 'call') skipped++;
    } else if (e.type === 'obs') {
      observations.set(e.n, e.obs);
    } else if (e.type === 'call') {
      callN++;
      r.calls++;
      const obs = observations.get(e.obs);
      if (!obs) {
        r.problems.push(`epoch ${epoch} call ${callN}: observation ${e.obs} missing from the journal`);
        continue;
      }
      const got = JSON.stringify(applyCall(engine, e.op, e.args, obs));
      const expected = JSON.stringify(e.out);
      if (e.op === 'schedule' || e.op === 'adopt') r.decisions++;
      if (got !== expected) r.differences.push({ epoch, call: callN, op: e.op, expected, got });
    }
  }
  if (skipped) r.problems.push(`${skipped} entries before the first epoch header skipped (their start was rotated away)`);
  return r;
}
