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

/**
 * A line, checked. A malformed result that still names an id comes back as a failed result too, so
 * its request is not left hanging.
 */
export function parseMessage(line: string): { msg?: WorkerMessage; problem?: string } {
  const preview = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { problem: `not JSON: ${preview}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: `not a JSON object: ${preview}` };
  const fields = v as Record<string, unknown>;
  if (fields.type === 'ready' || fields.type === 'heartbeat') return { msg: { type: fields.type } };
  if (fields.type === 'call') {
    if (typeof fields.id !== 'string' || fields.id === '' || fields.id.length > 256)
      return { problem: `call without a string id of 1–256 characters: ${preview}` };
    if (typeof fields.profile !== 'string')
      return { problem: `call '${fields.id}' without a string profile: ${preview}` };
    return {
      msg: {
        type: 'call',
        id: fields.id,
        profile: fields.profile,
        ...('payload' in fields ? { payload: fields.payload } : {}),
      },
    };
  }
  if (fields.type !== 'result')
    return { problem: `unknown message type ${JSON.stringify(fields.type) ?? 'undefined'}: ${preview}` };
  if (typeof fields.id !== 'string') return { problem: `result without a string id: ${preview}` };
  const bad =
    typeof fields.ok !== 'boolean'
      ? 'ok is not a boolean'
      : fields.error !== undefined && typeof fields.error !== 'string'
        ? 'error is not a string'
        : undefined;
  if (bad !== undefined)
    return {
      msg: { type: 'result', id: fields.id, ok: false, error: `malformed result: ${bad}` },
      problem: `result '${fields.id}': ${bad}`,
    };
  return {
    msg: {
      type: 'result',
      id: fields.id,
      ok: fields.ok as boolean,
      ...('result' in fields ? { result: fields.result } : {}),
      ...(fields.error !== undefined ? { error: fields.error as string } : {}),
    },
  };
}
