/**
 * Replay: re-run every epoch's engine calls on a fresh engine built from the epoch's `start`
 * entry and compare each result with the journalled one as JSON text.
 *
 * An engine cannot be rebuilt from the middle of its history, so a run of entries with no usable
 * start before it cannot be checked: the start was in a segment retention removed, the start
 * itself is invalid, a line before them is damaged, or the journal dropped entries while the disk
 * was full (a `gap`). Such runs are counted and reported, never passed over in silence: the
 * report separates what is wrong (`problems`: damage, nonsense, a missing observation) from what
 * could not be checked (`unchecked`), so a caller can tell "checked and identical" from
 * "identical as far as it could see".
 */
import { parseConfig } from '../engine/config.ts';
import { Orchestrator } from '../engine/orchestrator.ts';
import { buildTopology, type TopologyJson } from '../engine/topology.ts';
import type { Adoption } from '../engine/adoption.ts';
import type { EngineCalls } from '../engine/port.ts';
import { recordedCommands, recordedDecision } from '../engine/record.ts';
import type { Observation, Outcome, Prediction, Request } from '../engine/types.ts';
import { ENGINE_OPS, type EngineOp } from './port.ts';

/** Observations kept for calls to refer to (each call refers to the newest; older ones are slack). */
const KEPT_OBSERVATIONS = 64;

export interface ReplayDifference {
  epoch: number;
  /** 1-based index of the call within its epoch. */
  call: number;
  op: EngineOp;
  where: string;
  expected: string;
  got: string;
}

export interface ReplayReport {
  /** Epochs whose start entry was usable. */
  epochs: number;
  /** Engine calls re-run and compared. */
  calls: number;
  decisions: number;
  differences: ReplayDifference[];
  /** What is wrong: `where: what`. */
  problems: string[];
  /** Runs of entries that could not be checked, with how many and why. */
  unchecked: string[];
}

interface UncheckedRun {
  why: string;
  from: string;
  to: string;
  entries: number;
  calls: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function badObservation(e: Record<string, unknown>): string | undefined {
  if (!Number.isSafeInteger(e.n) || !isObject(e.obs) || typeof e.obs.t_ms !== 'number')
    return 'obs entry lacks an integer n or an observation with a numeric t_ms';
  return undefined;
}

function badCall(e: Record<string, unknown>): string | undefined {
  if (!ENGINE_OPS.includes(e.op as EngineOp) || !Array.isArray(e.args) || !Number.isSafeInteger(e.obs))
    return 'call entry lacks a known op, an args array or an integer obs';
  return undefined;
}

/**
 * Re-run one journalled call on `o` and give its result in recorded form (engine/record.ts), as
 * the journal holds it; an exception becomes `{ error }`, as the journal records it. The journal's
 * string op is turned back into the typed call here, and only here.
 */
function applyCall(o: EngineCalls, op: EngineOp, args: readonly unknown[], obs: Observation): unknown {
  try {
    switch (op) {
      case 'schedule':
        return recordedDecision(o.schedule(args[0] as Request, obs));
      case 'adopt':
        return recordedDecision(o.adopt(args[0] as Adoption, obs));
      case 'release':
        return recordedCommands(o.release(args[0] as string, args[1] as string, obs));
      case 'tick':
        return recordedCommands(o.tick(obs, args[0] as Prediction[] | undefined));
      case 'started':
        return recordedCommands(o.started(args[0] as string, obs));
      case 'complete':
        return recordedCommands(o.complete(args[0] as string, args[1] as Outcome, obs));
      case 'failed':
        return recordedCommands(o.failed(args[0] as string, args[1] as string, obs));
      case 'calling':
        return recordedCommands(o.calling(args[0] as string, obs));
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export class Replayer {
  readonly report: ReplayReport = { epochs: 0, calls: 0, decisions: 0, differences: [], problems: [], unchecked: [] };
  private engine: Orchestrator | undefined;
  private epoch = 0;
  private callN = 0;
  private readonly observations = new Map<number, Observation>();
  private run: UncheckedRun | undefined;
  /** Why entries seen while no engine is usable cannot be checked (before any start: rotated away). */
  private why = "their epoch's start entry is not in the journal (its segment was removed by retention)";

  /** One entry, located as `where` (file:line). Never throws. */
  feed(raw: unknown, where: string): void {
    try {
      this.entry(raw, where);
    } catch (e) {
      this.problem(where, `cannot be replayed: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** A line that could not be read at `where`: the rest of its epoch cannot be trusted. */
  damage(where: string): void {
    this.stop(`they follow the damaged line ${where}`);
  }

  finish(): ReplayReport {
    this.closeRun();
    return this.report;
  }

  private entry(raw: unknown, where: string): void {
    const e = isObject(raw) ? raw : {};
    if (e.type === 'start') return this.start(e, where);
    if (e.type === 'note') return;
    if (e.type === 'gap')
      return this.stop(
        `the journal dropped ${Number(e.lost_entries)} entries before them at ${where} while the disk refused writes`,
      );
    const bad =
      e.type === 'obs'
        ? badObservation(e)
        : e.type === 'call'
          ? badCall(e)
          : `not a journal entry (type ${JSON.stringify(e.type) ?? 'missing'})`;
    if (bad) return this.problem(where, bad);
    if (!this.engine) return this.uncheckedEntry(where, e.type === 'call');
    if (e.type === 'obs') return this.observation(e);
    this.call(e, where);
  }

  private start(e: Record<string, unknown>, where: string): void {
    this.closeRun();
    this.engine = undefined;
    this.observations.clear();
    this.callN = 0;
    if (!Number.isInteger(e.epoch) || typeof e.seed !== 'string' || !isObject(e.config) || !isObject(e.topology)) {
      this.problem(where, 'start entry lacks an integer epoch, a seed string, a config or a topology object');
      this.why = `their start entry at ${where} is invalid`;
      return;
    }
    try {
      this.engine = new Orchestrator({
        config: parseConfig(e.config),
        topology: buildTopology(e.topology as unknown as TopologyJson),
        seed: e.seed,
      });
    } catch (err) {
      this.problem(where, `start entry cannot build an engine: ${(err as Error)?.message ?? String(err)}`);
      this.why = `their start entry at ${where} is invalid`;
      return;
    }
    this.epoch = e.epoch as number;
    this.report.epochs++;
  }

  private observation(e: Record<string, unknown>): void {
    this.observations.set(e.n as number, e.obs as unknown as Observation);
    if (this.observations.size > KEPT_OBSERVATIONS)
      this.observations.delete(this.observations.keys().next().value as number);
  }

  private call(e: Record<string, unknown>, where: string): void {
    const engine = this.engine as Orchestrator;
    const op = e.op as EngineOp;
    this.callN++;
    const obs = this.observations.get(e.obs as number);
    if (!obs) {
      this.problem(where, `epoch ${this.epoch} call ${this.callN}: observation ${e.obs} missing from the journal`);
      this.stop(`observation ${e.obs} is missing at ${where}`);
      return;
    }
    const got = JSON.stringify(applyCall(engine, op, e.args as unknown[], obs));
    const expected = JSON.stringify(e.out);
    this.report.calls++;
    if (op === 'schedule' || op === 'adopt') this.report.decisions++;
    if (got !== expected)
      this.report.differences.push({
        epoch: this.epoch,
        call: this.callN,
        op,
        where,
        expected: String(expected),
        got: String(got),
      });
  }

  private problem(where: string, what: string): void {
    this.report.problems.push(`${where}: ${what.replace(/\s*\n\s*/g, '; ')}`);
  }

  /** No engine from here to the next start entry: the engine's state no longer follows the journal. */
  private stop(why: string): void {
    this.engine = undefined;
    this.why = `${why}`;
  }

  private uncheckedEntry(where: string, isCall: boolean): void {
    if (!this.run || this.run.why !== this.why) {
      this.closeRun();
      this.run = { why: this.why, from: where, to: where, entries: 0, calls: 0 };
    }
    this.run.to = where;
    this.run.entries++;
    if (isCall) this.run.calls++;
  }

  private closeRun(): void {
    const r = this.run;
    if (!r) return;
    this.report.unchecked.push(
      `${r.entries} entries (${r.calls} engine calls) from ${r.from} to ${r.to} not checked: ${r.why}`,
    );
    this.run = undefined;
  }
}

/** Replay entries held in memory; each is located as `entry N` (1-based). */
export function replay(entries: readonly unknown[]): ReplayReport {
  const r = new Replayer();
  entries.forEach((e, i) => {
    r.feed(e, `entry ${i + 1}`);
  });
  return r.finish();
}
