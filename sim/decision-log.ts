/**
 * decisions.jsonl: how much of the decision stream a run keeps, and the compact form of a decision
 * (docs/formats.md) that a run writes by default.
 */
import type { Decision } from '../engine/index.ts';

/**
 * How much of the decision stream a run writes: every decision whole (`all`, every node's score),
 * `compact` (the default, below), one `compact` decision in N (`sample`, the 1st, (N+1)th, …), or
 * none. Metrics never depend on it; a sweep or a scorecard need not pay for a journal it never
 * reads (a 24-hour run of the engine on diurnal-8n writes several GB in full).
 */
export type DecisionLog = 'all' | 'compact' | 'none' | { sample: number };

/** `all`, `compact`, `none` or `sample:N` (N ≥ 1), as the command line writes it. */
export function parseDecisionLog(text: string): DecisionLog {
  if (text === 'all' || text === 'compact' || text === 'none') return text;
  const m = /^sample:(\d+)$/.exec(text);
  if (m && Number(m[1]) >= 1) return { sample: Number(m[1]) };
  throw new RangeError(`'${text}' is not a decision log level: all, compact, sample:N (N ≥ 1) or none`);
}

/**
 * The journal's compact form of a decision: everything but the per-node score table (kept for the
 * chosen node and the runner-up) and the CPU lists, which at 64 nodes would make the journal
 * twenty times larger; `--decisions all` keeps it all. Fields as in the full decision.
 */
export function compactDecision(d: Decision): string {
  let chosen: Decision['scores'][number] | undefined, other: Decision['scores'][number] | undefined;
  for (const s of d.scores) {
    if (s.node === d.node) chosen = s;
    else if (s.eligible && (!other || s.total > other.total)) other = s;
  }
  return JSON.stringify({
    seq: d.seq,
    t_ms: d.t_ms,
    request_id: d.request_id,
    profile: d.profile,
    action: d.action,
    start: d.start,
    node: d.node,
    fragment: d.fragment,
    delay_ms: d.delay_ms,
    retry_after_ms: d.retry_after_ms,
    reason: d.reason,
    confidence: d.confidence,
    inputs_digest: d.inputs_digest,
    scores: chosen || other ? [chosen, other].filter(Boolean) : undefined,
    commands: d.commands.length
      ? d.commands.map((c) => ('fragment' in c ? { type: c.type, fragment: c.fragment } : { type: c.type }))
      : undefined,
  });
}
