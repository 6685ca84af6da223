/**
 * What the API needs from the agent (or from `fgo sim --serve`, which plays one): the API validates
 * and relays, the agent behind this port decides.
 */
import type { AgentMetrics } from './metrics.ts';
import type { ScheduleBody } from './schedule-body.ts';
import type { HistoryMessage } from './stream-history.ts';
import type { StreamMessage } from './stream-message.ts';

export interface AgentPort {
  readonly mode: 'adopt' | 'pool';
  /** The agent decides; the API only validates and relays. */
  schedule(body: ScheduleBody): Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;
  /** JSON for GET /v1/state. */
  state(): unknown;
  readonly metrics: AgentMetrics;
  /** Register a stream listener; returns the unsubscribe function. */
  subscribe(listener: (m: StreamMessage) => void): () => void;
  /** The recent past (serve/stream-history.ts), sent to a new stream client before the live messages. */
  history?(): HistoryMessage;
}
