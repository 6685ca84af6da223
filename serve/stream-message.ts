/**
 * One message of the WebSocket stream (/v1/stream): what the agent (or `fgo sim --serve`) publishes
 * and the API relays to every client; serve/stream-history.ts keeps the recent ones.
 */
import type { Command, Decision, NodeObservation, PressureView, PsiSet } from '../engine/types.ts';

export type StreamMessage =
  | { type: 'decision'; decision: Decision }
  | { type: 'sample'; t_ms: number; psi: PsiSet; pressure?: PressureView; nodes?: NodeObservation[] }
  | { type: 'command'; t_ms: number; command: Command }
  | { type: 'event'; t_ms: number; level: 'info' | 'warn' | 'error'; text: string };
