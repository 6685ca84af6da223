/**
 * What the stream has said so far, kept so that a dashboard opened late (or after a simulated run
 * ended) starts with the recent past instead of an empty page. The API records every message it
 * publishes; a new stream client gets one `history` message, then the live messages.
 *
 * Memory is bounded by count, not time: the last HISTORY_SAMPLES pressure samples (PSI only — the
 * per-node figures of a sample would make the history message several times larger) and the
 * decision counts of the last HISTORY_DECISION_BUCKETS buckets of HISTORY_BUCKET_S seconds, by
 * action. A decision is kept as a count, not whole: a busy agent, or a simulation played fast,
 * makes hundreds a second. The totals count everything since the API started.
 */
import type { Decision, PsiSet } from '../engine/types.ts';
import type { StreamMessage } from './stream-message.ts';

/** Pressure samples kept: ten minutes at the agent's default 1 s interval. */
export const HISTORY_SAMPLES = 600;
/** Width of one decision bucket, s (what the dashboard's bar chart draws). */
export const HISTORY_BUCKET_S = 10;
/** Decision buckets kept: one hour of 10 s buckets. */
export const HISTORY_DECISION_BUCKETS = 360;

export interface DecisionBucket {
  /** Start of the bucket, s on the stream's clock. */
  bucket_s: number;
  action: Decision['action'];
  count: number;
}

export interface HistoryMessage {
  type: 'history';
  samples: { t_ms: number; psi: PsiSet }[];
  decisions: DecisionBucket[];
  /** Samples and decisions published since the API started (the kept ones are the latest of these). */
  samples_total: number;
  decisions_total: number;
  limits: { samples: number; decision_buckets: number; bucket_s: number };
}

type Counts = Partial<Record<Decision['action'], number>>;
/** Decisions since the start, all and by action (what /v1/state reports as `decisions`). */
export type DecisionCounts = Record<Decision['action'] | 'total', number>;

export class StreamHistory {
  private readonly samples: { t_ms: number; psi: PsiSet }[] = [];
  /** bucket start (s) → counts by action; insertion order is time order, so the first key is the oldest. */
  private readonly buckets = new Map<number, Counts>();
  private samplesTotal = 0;
  private readonly decisionsTotal: DecisionCounts = { total: 0, place: 0, defer: 0, shed: 0, reject: 0 };

  constructor(private readonly limits = { samples: HISTORY_SAMPLES, decision_buckets: HISTORY_DECISION_BUCKETS }) {}

  /** Keep what a published message adds to the history (samples and decisions; commands and events are not kept). */
  record(m: StreamMessage): void {
    if (m.type === 'sample') this.sample(m.t_ms, m.psi);
    else if (m.type === 'decision') this.decision(m.decision.t_ms, m.decision.action);
  }

  private sample(t_ms: number, psi: PsiSet): void {
    this.samplesTotal++;
    this.samples.push({ t_ms, psi });
    if (this.samples.length > this.limits.samples) this.samples.shift();
  }

  private decision(t_ms: number, action: Decision['action']): void {
    this.decisionsTotal.total++;
    this.decisionsTotal[action]++;
    const bucket_s = HISTORY_BUCKET_S * Math.floor(t_ms / 1000 / HISTORY_BUCKET_S);
    let c = this.buckets.get(bucket_s);
    if (!c) {
      this.buckets.set(bucket_s, (c = {}));
      if (this.buckets.size > this.limits.decision_buckets)
        this.buckets.delete(this.buckets.keys().next().value as number);
    }
    c[action] = (c[action] ?? 0) + 1;
  }

  decisions(): DecisionCounts {
    return { ...this.decisionsTotal };
  }

  message(): HistoryMessage {
    const decisions: DecisionBucket[] = [];
    for (const [bucket_s, c] of this.buckets) {
      for (const [action, count] of Object.entries(c))
        decisions.push({ bucket_s, action: action as Decision['action'], count });
    }
    return {
      type: 'history',
      samples: [...this.samples],
      decisions,
      samples_total: this.samplesTotal,
      decisions_total: this.decisionsTotal.total,
      limits: {
        samples: this.limits.samples,
        decision_buckets: this.limits.decision_buckets,
        bucket_s: HISTORY_BUCKET_S,
      },
    };
  }
}
