#!/usr/bin/env node
/**
 * echo-worker.mjs — an example fgo pool worker. Plain Node ESM, no dependencies: copy it and put
 * your own work where handle() is. Run by hand with `node echo-worker.mjs` and type request lines.
 *
 * HOW THE AGENT RUNS A WORKER
 *   The agent starts the exact argv named in its config (no shell), with a minimal environment:
 *   PATH, LANG=C.UTF-8, HOME, plus the `env` of the worker's spec. Nothing else of the agent's
 *   environment is passed. It keeps the process warm and hands it one request at a time.
 *
 * THE PROTOCOL: one JSON object per line (UTF-8, '\n'-terminated), on stdin and stdout.
 *   agent → worker (stdin):
 *     {"type":"request","id":"<string>","profile":"<string>","payload":<any JSON, may be absent>}
 *       At most one request is outstanding per worker: the next one comes only after your result.
 *   worker → agent (stdout):
 *     {"type":"ready"}
 *       Once, when you can take requests. Until then you get none; if it does not come within the
 *       spec's ready_timeout_ms, the agent kills you (SIGKILL) and reports the worker failed.
 *     {"type":"result","id":"<the request's id>","ok":true,"result":<any JSON>}
 *     {"type":"result","id":"<the request's id>","ok":false,"error":"<message>"}
 *       Exactly one per request, with its id. A result for an id you were not given is a protocol
 *       error (logged, ignored).
 *     {"type":"heartbeat"}
 *       Optional, any time: tells the agent you are alive while a long request runs. Every valid
 *       line counts as a sign of life too.
 *     {"type":"call","id":"<your id for the call>","profile":"<profile>","payload":<any JSON>}
 *       While you hold a request: call another profile, one your profile declares in the engine
 *       config's `calls` (the fragment graph). The agent schedules it like any request — near you,
 *       or refused at once if that profile is down — and answers on your stdin:
 *   agent → worker (stdin):
 *     {"type":"answer","id":"<your call id>","ok":true,"result":<the callee's result>}
 *     {"type":"answer","id":"<your call id>","ok":false,"error":"<why>"}
 *       Exactly one per call. Your pipe is the whole endpoint: no token, only your declared calls,
 *       at most 64 per request.
 *   Rules for stdout: only protocol lines — log to stderr instead (the agent keeps the first 4 KiB
 *   of each stderr line for its log). Non-JSON or unknown types are logged as protocol errors and
 *   you are kept; a line longer than max_line_bytes (default 1 MiB) gets you killed at once.
 *
 * STOPPING: the agent closes your stdin — exit when you see EOF (finish the current request first
 *   if you like). If you are still running after stop_grace_ms/2 you get SIGTERM, and after
 *   stop_grace_ms SIGKILL. If you exit while holding a request, the agent reports that request
 *   failed and retries it elsewhere, so a crash loses no work (but work may run twice).
 *
 * THIS EXAMPLE: replies {"echo":<payload>,"pid":<its pid>}. Payload options:
 *   "calls": [{"profile":"<p>","payload":<any>}, …]  make these calls first, at once, and reply
 *                        with their answers too: {"echo":…,"pid":…,"calls":[<answer>, …]}; if one
 *                        fails, reply ok:false naming it.
 *   "work_ms": <number>  busy-spin that long first (CPU work, so PSI sees pressure; capped at 10000).
 *                        While spinning, the event loop is blocked: a SIGTERM waits until the
 *                        spin ends, which is why the agent follows it with SIGKILL.
 *   "fail": true         reply ok:false with an error instead.
 */
import { createInterface } from 'node:readline';

const MAX_WORK_MS = 10_000;

/** Write one protocol line. Writes to a pipe are synchronous on Linux, so lines are never interleaved. */
function send(msg) {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** Burn CPU for `ms` milliseconds (not sleep: the point is to load a CPU). */
function spin(ms) {
  const end = performance.now() + Math.min(Math.max(ms, 0), MAX_WORK_MS);
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}

/** The work. Return the result, or throw to reply ok:false. */
function handle(payload) {
  if (payload !== null && typeof payload === 'object') {
    if (typeof payload.work_ms === 'number' && Number.isFinite(payload.work_ms)) spin(payload.work_ms);
    if (payload.fail === true) throw new Error('failed on request (payload.fail is true)');
  }
  return { echo: payload, pid: process.pid };
}

/** Calls in flight: call id → resolve with its answer line. */
const waiting = new Map();
let nextCall = 0;

/** Call another profile through the agent; resolves with the answer line. */
function call(profile, payload) {
  const id = `c${++nextCall}`;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    send({ type: 'call', id, profile, payload });
  });
}

async function serve(req) {
  try {
    const p = req.payload;
    const answers =
      p !== null && typeof p === 'object' && Array.isArray(p.calls)
        ? await Promise.all(p.calls.map((c) => call(c?.profile, c?.payload)))
        : undefined;
    const failed = answers?.find((a) => !a.ok);
    if (failed) throw new Error(`a call failed: ${failed.error}`);
    const result = handle(p);
    send({
      type: 'result',
      id: req.id,
      ok: true,
      result: answers ? { ...result, calls: answers.map((a) => a.result) } : result,
    });
  } catch (e) {
    send({ type: 'result', id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    console.error(`echo-worker: ignoring a line that is not JSON: ${line.slice(0, 200)}`);
    return;
  }
  if (msg !== null && msg.type === 'answer' && waiting.has(msg.id)) {
    const resolve = waiting.get(msg.id);
    waiting.delete(msg.id);
    return resolve(msg);
  }
  if (msg === null || msg.type !== 'request' || typeof msg.id !== 'string') {
    console.error(`echo-worker: ignoring a line that is not a request or an answer: ${line.slice(0, 200)}`);
    return;
  }
  void serve(msg);
});
// EOF on stdin: the agent is stopping us. Exit once stdout has drained.
lines.on('close', () => process.stdout.write('', () => process.exit(0)));
process.on('SIGTERM', () => process.exit(0));

// unref'd: the heartbeat alone must not keep the process alive after stdin closes
setInterval(() => send({ type: 'heartbeat' }), 2000).unref();
send({ type: 'ready' });
