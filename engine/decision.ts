/**
 * A decision's parts and its assembly: the fixed part every decision about one request carries,
 * the part each outcome fills in, and the one key order journals are written in.
 */
import type { Decision, NodeScore, Request } from './types.ts';

/** What every decision about a request carries, whatever is decided. */
export type DecisionBase = Pick<Decision, 'seq' | 't_ms' | 'request_id' | 'profile' | 'pressure' | 'inputs_digest'>;

/** What an outcome decides: the action, why, how sure, and optionally the rest. */
export type DecisionDraft = Partial<Decision> & Pick<Decision, 'action' | 'reason' | 'confidence'>;

/** Assemble a decision with its keys in one fixed order, so journals read (and diff) alike. */
export function assembleDecision(base: DecisionBase, d: DecisionDraft): Decision {
  const out: Decision = {
    seq: base.seq,
    t_ms: base.t_ms,
    request_id: base.request_id,
    profile: base.profile,
    action: d.action,
  } as Decision;
  if (d.start !== undefined) out.start = d.start;
  if (d.node !== undefined) out.node = d.node;
  if (d.cpus !== undefined) out.cpus = d.cpus;
  if (d.exclusive !== undefined) out.exclusive = d.exclusive;
  if (d.fragment !== undefined) out.fragment = d.fragment;
  if (d.delay_ms !== undefined) out.delay_ms = d.delay_ms;
  if (d.retry_after_ms !== undefined) out.retry_after_ms = d.retry_after_ms;
  out.reason = d.reason;
  out.confidence = d.confidence;
  out.pressure = base.pressure;
  out.scores = d.scores ?? [];
  out.inputs_digest = base.inputs_digest;
  out.commands = d.commands ?? [];
  return out;
}

/** Why the ineligible nodes were left out, for a decision's reason. */
export function summariseExclusions(scores: readonly NodeScore[]): string {
  return scores
    .filter((s) => !s.eligible)
    .map((s) => `node ${s.node}: ${s.excluded}`)
    .join('; ');
}

/** Cheap structural checks on the hot path; shells validate input fully with engine/schemas.ts. */
export function assertRequest(r: Request): void {
  if (typeof r.id !== 'string' || r.id === '') throw new Error('request: id must be a non-empty string');
  if (!(Number.isFinite(r.cpus) && r.cpus >= 0)) throw new Error(`request ${r.id}: cpus must be ≥ 0`);
  if (!(Number.isInteger(r.memory_kb) && r.memory_kb >= 0))
    throw new Error(`request ${r.id}: memory_kb must be an integer ≥ 0`);
  if (!(Number.isInteger(r.priority) && r.priority >= 0 && r.priority <= 3))
    throw new Error(`request ${r.id}: priority must be 0–3`);
  if (r.exclusive_cpus !== undefined && !(Number.isInteger(r.exclusive_cpus) && r.exclusive_cpus >= 0))
    throw new Error(`request ${r.id}: exclusive_cpus must be an integer ≥ 0`);
}
