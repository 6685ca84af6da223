/**
 * The engine's port: what a shell may ask of it, typed once. The Orchestrator implements it; the
 * twin drives it directly (sim/shell.ts takes the subset baselines implement too) and the live
 * agent through live/port.ts, which journals each call and implements the same interface, so both
 * shells call the same methods with the same types.
 *
 * Calls that change the engine's state are the `EngineCalls`: each takes the observation it is
 * made with and answers with a decision or commands; the journal records exactly these. What a
 * shell reads back (status, the healing record, one fragment's placement) changes nothing and is
 * not journalled.
 */
import type { Adoption } from './adoption.ts';
import type { Outage } from './cascade.ts';
import type { Incident } from './health.ts';
import type { Fragment } from './pools.ts';
import type { Status } from './status.ts';
import type { Command, Decision, Observation, Outcome, Prediction, Request } from './types.ts';

/** The engine's state-changing calls; they throw on input the engine cannot take (an unknown fragment, …). */
export interface EngineCalls {
  schedule(request: Request, obs: Observation): Decision;
  /** Adopt mode: place a running process the shell found (engine/adoption.ts). */
  adopt(a: Adoption, obs: Observation): Decision;
  /** Adopt mode: an adopted process is gone. */
  release(id: string, reason: string, obs: Observation): Command[];
  /** The periodic turn: health, scaling, deferred retries; pool mode hands it fresh demand predictions. */
  tick(obs: Observation, predictions?: readonly Prediction[]): Command[];
  /** A fragment's process is ready. */
  started(id: string, obs: Observation): Command[];
  /** A fragment's request finished. */
  complete(id: string, outcome: Outcome, obs: Observation): Command[];
  /** A fragment's process died or could not start. */
  failed(id: string, reason: string, obs: Observation): Command[];
  /** A fragment's request now waits on its sync calls and runs nothing (the fragment graph). */
  calling(id: string, obs: Observation): Command[];
}

/** What a shell may read of one fragment: where the engine has it and in which state. */
export type FragmentView = Readonly<Pick<Fragment, 'id' | 'profile' | 'state' | 'node' | 'cpus'>>;

/** What the shells read back; nothing here changes the engine. */
export interface EngineView {
  /** A snapshot for status endpoints, metrics and reports (engine/status.ts). */
  status(): Status;
  /** The healing record (engine/health.ts). */
  incidents(): { open: Incident[]; closed: readonly Incident[] };
  /** Outages of whole pools (engine/cascade.ts); undefined with the fragment graph's terms off. */
  outageList(): { open: Outage[]; closed: readonly Outage[] } | undefined;
  /** Fragments by id, e.g. whether one is still starting when its process reports ready. */
  readonly pools: { get(id: string): FragmentView | undefined };
}

export interface EnginePort extends EngineCalls, EngineView {}
