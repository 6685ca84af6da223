/**
 * How a worker that cannot start, or a request that cannot be sent, is reported by live/workers.ts
 * (real child processes): the exit reason names the errno or the exit code and quotes the first
 * stderr lines (bounded); a payload JSON.stringify cannot encode is refused by send() without
 * throwing and without changing the worker's state, and the worker serves the next request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { encodePayload } from '../../live/worker-protocol.ts';
import type { WorkerSpec } from '../../live/worker-spec.ts';
import { STDERR_HEAD_BYTES, Worker, type WorkerExit } from '../../live/workers.ts';

const ECHO = join(import.meta.dirname, '../../live/examples/echo-worker.mjs');
const live: Worker[] = [];
afterEach(() => {
  for (const w of live.splice(0)) w.kill();
});

function start(command: string[], over: Partial<WorkerSpec> = {}) {
  let onReady!: () => void;
  let onExit!: (e: WorkerExit) => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const exited = new Promise<WorkerExit>((r) => (onExit = r));
  const results: unknown[] = [];
  const w = Worker.spawn(
    'frag',
    'prof',
    { command, ready_timeout_ms: 10_000, stop_grace_ms: 2_000, ...over },
    {
      ready: () => onReady(),
      heartbeat: () => {},
      exit: (_w, how) => onExit(how),
      result: (_w, r) => void results.push(r),
    },
  );
  live.push(w);
  return { w, ready, exited, results };
}

/** [[[…]]] nested `depth` deep: JSON.parse takes it, JSON.stringify overflows the stack. */
const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

describe('start failures are explained', () => {
  it('a missing program: ENOENT and what it means, no pid, exit once', async () => {
    const { w, exited } = start(['/nonexistent/prog']);
    const how = await exited;
    expect(w.pid).toBeUndefined();
    expect(how).toMatchObject({ code: null, signal: null });
    expect(how.reason).toBe(
      "cannot start '/nonexistent/prog': no such program (absolute path missing, or not found in PATH) (ENOENT)",
    );
    expect(how.ready_ms).toBeUndefined();
  });

  it('/bin/false: the exit code, never ready', async () => {
    const how = await start(['/bin/false']).exited;
    expect(how).toMatchObject({ code: 1, signal: null, reason: 'exited with code 1' });
    expect(how.ready_ms).toBeUndefined();
  });

  it('a program that complains and exits: its first stderr lines, at most 5 and 1 KiB, are in the reason', async () => {
    const how = await start([
      '/bin/sh',
      '-c',
      'for i in 1 2 3 4 5 6 7; do echo "line $i: missing config" >&2; done; exit 3',
    ]).exited;
    expect(how.code).toBe(3);
    expect(how.reason).toBe(
      `exited with code 3; stderr: ${JSON.stringify(['1', '2', '3', '4', '5'].map((i) => `line ${i}: missing config`).join('\n'))}`,
    );
    const long = await start(['/bin/sh', '-c', `head -c 3000 /dev/zero | tr '\\0' x >&2; echo >&2; exit 2`]).exited;
    const quoted = JSON.parse(long.reason.slice(long.reason.indexOf('stderr: ') + 8)) as string;
    expect(quoted).toBe('x'.repeat(STDERR_HEAD_BYTES));
  });

  it('a worker killed by a signal before ready says so', async () => {
    const how = await start(['/bin/sh', '-c', 'kill -9 $$']).exited;
    expect(how).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL' });
  });

  it('a worker that served reports how long it had been ready', async () => {
    const { w, ready, exited } = start([process.execPath, ECHO]);
    await ready;
    expect(w.readySince_ms).toBeGreaterThan(0);
    w.kill();
    const how = await exited;
    expect(how.ready_ms).toBeGreaterThanOrEqual(0);
  });
});

describe('payloads that cannot be encoded', () => {
  it('encodePayload: a 30,000-deep array, a BigInt and a cycle are refused with the reason; undefined is no payload', () => {
    expect(encodePayload(nested(30_000))).toEqual({
      ok: false,
      error: expect.stringMatching(/^payload cannot be encoded as JSON: Maximum call stack size exceeded/),
    });
    expect(encodePayload({ n: 1n })).toEqual({ ok: false, error: expect.stringMatching(/BigInt/) });
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(encodePayload(cyc)).toEqual({ ok: false, error: expect.stringMatching(/circular/) });
    expect(encodePayload(undefined)).toEqual({ ok: true, json: undefined });
    expect(encodePayload({ a: [1, 'x'] })).toEqual({ ok: true, json: '{"a":[1,"x"]}' });
  });

  it('send() refuses it without throwing; the worker stays ready and serves the next request', async () => {
    const { w, ready, results } = start([process.execPath, ECHO]);
    await ready;
    expect(w.send({ id: 'deep', payload: nested(30_000) })).toEqual({
      ok: false,
      error: expect.stringMatching(/Maximum call stack/),
    });
    expect(w.state).toBe('ready');
    expect(w.send({ id: 'fine', payload: { x: 1 } })).toEqual({ ok: true });
    expect(w.state).toBe('busy');
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (!results.length) return;
        clearInterval(t);
        resolve();
      }, 20);
    });
    expect(results).toEqual([
      expect.objectContaining({ id: 'fine', ok: true, result: { echo: { x: 1 }, pid: w.pid } }),
    ]);
  });
});
