/**
 * The line protocol between the agent and a pool worker (live/examples/echo-worker.mjs is the
 * worker's side, in full): one JSON object per line. The agent sends requests; the worker answers
 * with ready, heartbeat, result and call lines, each checked here so that a bad line becomes a
 * described problem and never an exception in the agent.
 */

export interface WorkerCall {
  id: string;
  profile: string;
  payload?: unknown;
}
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'heartbeat' }
  | { type: 'result'; id: string; ok: boolean; result?: unknown; error?: string }
  | ({ type: 'call' } & WorkerCall);

/**
 * A request payload as JSON text (undefined: no payload), or why it cannot be: JSON.stringify
 * recurses, so a payload nested deeper than the stack throws a RangeError; a BigInt or a cycle
 * throws a TypeError. Used by send() and, earlier, by the pool's admission, so such a request is
 * refused before the engine places it.
 */
export function encodePayload(payload: unknown): { ok: true; json: string | undefined } | { ok: false; error: string } {
  try {
    return { ok: true, json: JSON.stringify(payload) };
  } catch (e) {
    return { ok: false, error: `payload cannot be encoded as JSON: ${(e as Error).message}` };
  }
}

/** A line, checked. A malformed result that still names an id comes back as a failed result too, so its request is not left hanging. */
export function parseMessage(line: string): { msg?: WorkerMessage; problem?: string } {
  const preview = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { problem: `not JSON: ${preview}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: `not a JSON object: ${preview}` };
  const o = v as Record<string, unknown>;
  if (o.type === 'ready' || o.type === 'heartbeat') return { msg: { type: o.type } };
  if (o.type === 'call') {
    if (typeof o.id !== 'string' || o.id === '' || o.id.length > 256)
      return { problem: `call without a string id of 1–256 characters: ${preview}` };
    if (typeof o.profile !== 'string') return { problem: `call '${o.id}' without a string profile: ${preview}` };
    return { msg: { type: 'call', id: o.id, profile: o.profile, ...('payload' in o ? { payload: o.payload } : {}) } };
  }
  if (o.type !== 'result')
    return { problem: `unknown message type ${JSON.stringify(o.type) ?? 'undefined'}: ${preview}` };
  if (typeof o.id !== 'string') return { problem: `result without a string id: ${preview}` };
  const bad =
    typeof o.ok !== 'boolean'
      ? 'ok is not a boolean'
      : o.error !== undefined && typeof o.error !== 'string'
        ? 'error is not a string'
        : undefined;
  if (bad !== undefined)
    return {
      msg: { type: 'result', id: o.id, ok: false, error: `malformed result: ${bad}` },
      problem: `result '${o.id}': ${bad}`,
    };
  return {
    msg: {
      type: 'result',
      id: o.id,
      ok: o.ok as boolean,
      ...('result' in o ? { result: o.result } : {}),
      ...(o.error !== undefined ? { error: o.error as string } : {}),
    },
  };
}
