/**
 * Pool-mode workers as real child processes: the example echo worker (live/examples), and tiny
 * inline scripts written to a temp dir for the misbehaving cases (never ready, ignores EOF and
 * SIGTERM, bad lines, over-long lines, chunked output, dying mid-request). `process.execPath` is
 * the program throughout, so no shell and no PATH lookup is involved unless a test wants one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validateSpec, type WorkerSpec } from '../../live/worker-spec.ts';
import { Worker, type WorkerExit, type WorkerResult } from '../../live/workers.ts';

const ECHO = join(import.meta.dirname, '../../live/examples/echo-worker.mjs');
const dir = mkdtempSync(join(tmpdir(), 'fgo-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

const live: Worker[] = [];
afterEach(() => {
  for (const w of live.splice(0)) w.kill();
});

/** A worker with hooks that record everything, plus promises to wait on. */
function start(command: string[], over: Partial<WorkerSpec> = {}) {
  const rec = {
    ready: 0,
    heartbeats: 0,
    results: [] as WorkerResult[],
    exits: [] as WorkerExit[],
    problems: [] as string[],
    stderr: [] as string[],
  };
  let onReady!: () => void;
  let onExit!: (e: WorkerExit) => void;
  const resultWaiters: ((r: WorkerResult) => void)[] = [];
  const ready = new Promise<void>((r) => (onReady = r));
  const exited = new Promise<WorkerExit>((r) => (onExit = r));
  const spec: WorkerSpec = { command, ready_timeout_ms: 5000, stop_grace_ms: 2000, ...over };
  const w = Worker.spawn('frag', 'prof', spec, {
    ready: () => {
      rec.ready++;
      onReady();
    },
    result: (_w, m) => {
      rec.results.push(m);
      resultWaiters.shift()?.(m);
    },
    heartbeat: () => void rec.heartbeats++,
    exit: (_w, how) => {
      rec.exits.push(how);
      onExit(how);
    },
    protocolError: (_w, p) => void rec.problems.push(p),
    stderr: (_w, l) => void rec.stderr.push(l),
  });
  live.push(w);
  const request = (id: string, payload?: unknown) => {
    const p = new Promise<WorkerResult>((r) => resultWaiters.push(r));
    w.send({ id, payload });
    return p;
  };
  return { w, rec, ready, exited, request };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const node = (file: string) => [process.execPath, file];

describe('the echo worker', () => {
  it('gets ready, echoes the payload with a positive latency, and honours work_ms', async () => {
    const { w, rec, ready, request } = start(node(ECHO));
    expect(w.state).toBe('starting');
    expect(w.pid).toBeGreaterThan(0);
    await ready;
    expect(w.state).toBe('ready');
    const r = request('r1', { hello: 'wörld', n: [1, 2] });
    expect(w.state).toBe('busy');
    expect(() => w.send({ id: 'r2' })).toThrow(/busy/);
    const res = await r;
    expect(res).toMatchObject({ id: 'r1', ok: true, result: { echo: { hello: 'wörld', n: [1, 2] }, pid: w.pid } });
    expect(res.latency_ms).toBeGreaterThan(0);
    expect(w.state).toBe('ready');
    const slow = await request('r3', { work_ms: 50 });
    expect(slow.ok).toBe(true);
    expect(slow.latency_ms).toBeGreaterThanOrEqual(50);
    expect(w.lastHeartbeat_ms).toBeGreaterThan(0);
    expect(rec.problems).toEqual([]);
  });

  it('replies ok:false when the payload asks it to fail', async () => {
    const { ready, request } = start(node(ECHO));
    await ready;
    const res = await request('f1', { fail: true });
    expect(res.ok).toBe(false);
    expect(res.error).toMatch(/fail/);
    expect(res.result).toBeUndefined();
  });

  it('refuses send() before ready', () => {
    const { w } = start(node(ECHO));
    expect(() => w.send({ id: 'x' })).toThrow(/starting/);
  });
});

describe('stopping', () => {
  it('a well-behaved worker exits 0 on EOF, and exit fires once', async () => {
    const { w, rec, ready } = start(node(ECHO));
    await ready;
    const t0 = performance.now();
    await w.stop('test over');
    expect(performance.now() - t0).toBeLessThan(1000); // well before the SIGTERM at 1000 ms
    expect(w.state).toBe('exited');
    await sleep(300);
    expect(rec.exits).toHaveLength(1);
    expect(rec.exits[0]).toMatchObject({ code: 0, signal: null });
    expect(rec.exits[0]!.reason).toMatch(/test over/);
    await w.stop('again'); // a second stop resolves at once
    expect(rec.exits).toHaveLength(1);
  });

  it('a worker that ignores EOF gets SIGTERM after half the grace', async () => {
    const p = script('no-eof.mjs', `setInterval(()=>{},1000); console.log(JSON.stringify({type:'ready'}))`);
    const { w, ready, exited } = start(node(p), { stop_grace_ms: 600 });
    await ready;
    const t0 = performance.now();
    void w.stop('grace');
    const how = await exited;
    expect(how.signal).toBe('SIGTERM');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('a worker that ignores EOF and SIGTERM is SIGKILLed after the grace', async () => {
    const p = script(
      'stubborn.mjs',
      `process.on('SIGTERM',()=>{}); setInterval(()=>{},1000); console.log(JSON.stringify({type:'ready'}))`,
    );
    const { w, rec, ready } = start(node(p), { stop_grace_ms: 400 });
    await ready;
    const t0 = performance.now();
    await w.stop('stubborn');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(rec.exits).toHaveLength(1);
    expect(rec.exits[0]).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it('kill() ends a worker at once', async () => {
    const { w, ready, exited } = start(node(ECHO));
    await ready;
    w.kill();
    expect(await exited).toMatchObject({ signal: 'SIGKILL', reason: expect.stringMatching(/killed/) });
  });
});

describe('failures', () => {
  it('kills a worker that never gets ready, and says so', async () => {
    const p = script('never-ready.mjs', `setInterval(()=>{},1000)`);
    const { w, rec, exited } = start(node(p), { ready_timeout_ms: 300 });
    const how = await exited;
    expect(how.reason).toMatch(/ready timeout.*300 ms/);
    expect(how.signal).toBe('SIGKILL');
    expect(rec.ready).toBe(0);
    expect(w.state).toBe('exited');
  });

  it('reports a nonexistent program through exit, without throwing', async () => {
    for (const program of ['/nonexistent/fgo-no-such-worker', 'fgo-no-such-worker-in-path']) {
      let s!: ReturnType<typeof start>;
      expect(() => (s = start([program, '--x']))).not.toThrow();
      expect(s.rec.exits).toHaveLength(0); // never before spawn() returns
      const how = await s.exited;
      expect(how.reason).toContain(program);
      expect(how).toMatchObject({ code: null, signal: null });
      expect(s.w.pid).toBeUndefined();
      expect(s.w.state).toBe('exited');
      await s.w.stop('nothing to stop');
      await sleep(50);
      expect(s.rec.exits).toHaveLength(1);
    }
  });

  it('refuses an invalid spec through exit, without spawning', async () => {
    const s = start([]);
    expect((await s.exited).reason).toMatch(/invalid spec: command is empty/);
    expect(s.w.pid).toBeUndefined();
  });

  it('reports the pending request when a worker dies while busy', async () => {
    const p = script(
      'dies.mjs',
      `process.stdin.on('data',()=>process.exit(3)); console.log(JSON.stringify({type:'ready'}))`,
    );
    const { w, rec, ready, exited } = start(node(p));
    await ready;
    w.send({ id: 'lost-1', payload: { a: 1 } });
    const how = await exited;
    expect(how).toMatchObject({ code: 3, signal: null, pending: 'lost-1' });
    expect(how.reason).toMatch(/lost-1/);
    expect(rec.results).toEqual([]);
  });

  it('survives a worker that closes stdin (EPIPE on write)', async () => {
    const p = script(
      'closes-stdin.mjs',
      `import {closeSync} from 'node:fs'; closeSync(0); console.log(JSON.stringify({type:'ready'})); setTimeout(()=>process.exit(0),300)`,
    );
    const { w, ready, exited } = start(node(p));
    await ready;
    await sleep(50);
    w.send({ id: 'e1', payload: 'x'.repeat(200_000) }); // larger than a pipe buffer
    expect((await exited).pending).toBe('e1');
  });
});

describe('the line protocol', () => {
  it('logs bad lines and keeps the worker; heartbeats count; stderr lines are capped at 4 KiB', async () => {
    const p = script(
      'noisy.mjs',
      `const out = (s) => process.stdout.write(s + '\\n');
      out('this is not json'); out('[1,2]'); out(JSON.stringify({type:'bogus'}));
      out(JSON.stringify({type:'result',id:'nobody',ok:true}));
      process.stderr.write('short line\\n' + 'é'.repeat(5000) + '\\nafter\\n');
      out(JSON.stringify({type:'ready'})); out(''); out(JSON.stringify({type:'heartbeat'}));
      setInterval(()=>{},1000)`,
    );
    const { w, rec, ready } = start(node(p));
    await ready;
    await sleep(200);
    expect(rec.problems).toHaveLength(4);
    expect(rec.problems[0]).toMatch(/not JSON: this is not json/);
    expect(rec.problems[1]).toMatch(/not a JSON object/);
    expect(rec.problems[2]).toMatch(/unknown message type "bogus"/);
    expect(rec.problems[3]).toMatch(/unknown id 'nobody'/);
    expect(rec.heartbeats).toBe(1);
    expect(w.state).toBe('ready');
    expect(rec.stderr[0]).toBe('short line');
    expect(Buffer.byteLength(rec.stderr[1]!)).toBeLessThanOrEqual(4096);
    expect(rec.stderr[1]).toMatch(/^é{2048}$/);
    expect(rec.stderr[2]).toBe('after');
  });

  it('kills a worker whose stdout line is over the limit, even before its newline', async () => {
    const p = script(
      'long.mjs',
      `console.log(JSON.stringify({type:'ready'})); setTimeout(()=>process.stdout.write('x'.repeat(5000)), 50); setInterval(()=>{},1000)`,
    );
    const { rec, ready, exited } = start(node(p), { max_line_bytes: 1024 });
    await ready;
    const how = await exited;
    expect(how.signal).toBe('SIGKILL');
    expect(how.reason).toMatch(/over 1024 bytes/);
    expect(rec.problems).toEqual(['stdout line over 1024 bytes']);
  });

  it('frames lines split across chunks, many lines per chunk, and characters split mid-sequence', async () => {
    const p = script(
      'chunks.mjs',
      `const parts = [Buffer.from('{"type":"rea'), Buffer.from('dy"}\\n{"type":"heartbeat"}\\n{"type":"heart'), Buffer.from('beat"}\\n')];
      const send = (i) => { if (i < parts.length) { process.stdout.write(parts[i]); setTimeout(() => send(i + 1), 30); } };
      send(0);
      process.stdin.on('data', (d) => {
        const id = JSON.parse(String(d)).id;
        const line = Buffer.from(JSON.stringify({ type: 'result', id, ok: false, error: 'é€😀' }) + '\\r\\n');
        const cut = line.indexOf(Buffer.from('😀')) + 2; // in the middle of the 4-byte emoji
        process.stdout.write(line.subarray(0, cut));
        setTimeout(() => process.stdout.write(line.subarray(cut)), 30);
      });`,
    );
    const { rec, ready, request } = start(node(p));
    await ready;
    while (rec.heartbeats < 2) await sleep(10); // the last chunk must be out before the result's first half
    const res = await request('u1');
    expect(res).toMatchObject({ id: 'u1', ok: false, error: 'é€😀' });
    expect(rec.heartbeats).toBe(2);
    expect(rec.problems).toEqual([]);
  });
});

describe('environment', () => {
  it('passes only PATH, LANG, HOME and the spec env', async () => {
    const p = script(
      'env.mjs',
      `process.stdin.on('data', (d) => console.log(JSON.stringify({ type: 'result', id: JSON.parse(String(d)).id, ok: true, result: process.env })));
      console.log(JSON.stringify({type:'ready'}))`,
    );
    process.env.FGO_TEST_SECRET = 'must-not-leak';
    try {
      const { ready, request } = start(node(p), { env: { FGO_WORKER_VAR: 'yes' }, cwd: dir });
      await ready;
      const env = (await request('env')).result as Record<string, string>;
      expect(Object.keys(env).sort()).toEqual(['FGO_WORKER_VAR', 'HOME', 'LANG', 'PATH']);
      expect(env).toMatchObject({ FGO_WORKER_VAR: 'yes', LANG: 'C.UTF-8', PATH: process.env.PATH });
    } finally {
      delete process.env.FGO_TEST_SECRET;
    }
  });
});

describe('validateSpec', () => {
  const base = { ready_timeout_ms: 1000, stop_grace_ms: 1000 };
  it('accepts absolute paths, bare names and shell commands as plain argv', () => {
    expect(validateSpec({ ...base, command: [process.execPath, ECHO] })).toEqual([]);
    expect(
      validateSpec({ ...base, command: ['python3', '-u', 'w.py'], env: { A: 'b' }, cwd: '/tmp', max_line_bytes: 4096 }),
    ).toEqual([]);
    expect(validateSpec({ ...base, command: ['sh', '-c', 'echo "$1; rm -rf /"'] })).toEqual([]); // argv; we never involve a shell
  });
  it('refuses what cannot be run safely', () => {
    const one = (spec: Partial<WorkerSpec>) => validateSpec({ ...base, command: ['w'], ...spec });
    expect(one({ command: [] })).toEqual([expect.stringMatching(/command is empty/)]);
    expect(one({ command: [''] })).toEqual([expect.stringMatching(/program\) is empty/)]);
    expect(one({ command: ['./worker'] })).toEqual([expect.stringMatching(/relative path/)]);
    expect(one({ command: ['bin/worker'] })).toEqual([expect.stringMatching(/relative path/)]);
    expect(one({ command: ['w', 3 as unknown as string] })).toEqual(['command[1] is not a string']);
    expect(one({ command: ['w', 'a\0b'] })).toEqual(['command[1] contains a NUL byte']);
    expect(one({ env: { A: 'x\0y' } })).toEqual(['env A contains a NUL byte']);
    expect(one({ env: { 'A=B': 'x' } })).toEqual([expect.stringMatching(/env name/)]);
    expect(one({ cwd: 'relative/dir' })).toEqual([expect.stringMatching(/cwd/)]);
    expect(one({ ready_timeout_ms: 0, stop_grace_ms: Number.NaN })).toHaveLength(2);
    expect(one({ max_line_bytes: 1.5 })).toEqual([expect.stringMatching(/max_line_bytes/)]);
  });
});
