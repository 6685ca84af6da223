/**
 * The recorded form of the engine's answers: what the live journal (live/port.ts) and the twin's
 * decisions.jsonl (sim/run.ts) hold. Commands carry some fields only so an executor needs nothing
 * but the command (a restart's profile, node and CPUs); those follow from the engine's state at
 * that call, so records leave them out and keep the form they always had — a journal written
 * before they existed replays byte for byte, and a run's decisions.jsonl does not change.
 */
import type { Command, Decision } from './types.ts';

type Restart = Extract<Command, { type: 'restart' }>;

/** A command as records hold it. */
export type RecordedCommand = Exclude<Command, Restart> | Omit<Restart, 'profile' | 'node' | 'cpus'>;

export function recordedCommand(c: Command): RecordedCommand {
  if (c.type !== 'restart') return c;
  const { profile: _profile, node: _node, cpus: _cpus, ...rest } = c;
  return rest; // the remaining keys keep their order
}

/** The same array when nothing in it differs from its record (the common case: no copy). */
export function recordedCommands(cs: readonly Command[]): readonly RecordedCommand[] {
  return cs.some((c) => c.type === 'restart') ? cs.map(recordedCommand) : cs;
}

/** A decision as records hold it; the same object when its commands need no change. */
export function recordedDecision(
  d: Decision,
): Decision | (Omit<Decision, 'commands'> & { commands: readonly RecordedCommand[] }) {
  const commands = recordedCommands(d.commands);
  return commands === d.commands ? d : { ...d, commands };
}
