/**
 * The live agent's HTTP API against a real server on 127.0.0.1 (port 0) with a fake AgentPort:
 * authentication, body limits (declared and streamed), validation and priority mapping, relaying,
 * metrics exposition, the WebSocket stream (order, unsubscribe, slow-client drop), the token file's
 * safety checks, and listen-address parsing.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Status } from '../../engine/status.ts';
import type { Decision, Observation, PressureView } from '../../engine/types.ts';
import { startApi } from '../../serve/api.ts';
import type { AgentPort } from '../../serve/agent-port.ts';
import type { StreamMessage } from '../../serve/stream-message.ts';
import type { ScheduleBody } from '../../serve/schedule-body.ts';
import { isLoopback, parseListen } from '../../serve/listen.ts';
import { AgentMetrics } from '../../serve/metrics.ts';
import { checkBearer, loadOrCreateToken } from '../../serve/token.ts';

const TOKEN = 'a'.repeat(64);
const LIMIT = 1024;

/** A stand-in for the agent: records schedule calls and lets the test publish stream messages. */
class FakePort implements AgentPort {
  readonly mode = 'pool' as const;
  readonly metrics = new AgentMetrics();
  readonly calls: ScheduleBody[] = [];
  readonly listeners = new Set<(m: StreamMessage) => void>();
  fail = false;
  schedule(body: ScheduleBody): Promise<{ status: number; body: unknown }> {
    this.calls.push(body);
    if (this.fail) return Promise.reject(new Error('secret internal detail'));
    return Promise.resolve({ status: 200, body: { action: 'place' } });
  }
  state(): unknown {
    return { mode: this.mode, ok: true };
  }
  subscribe(listener: (m: StreamMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  publish(m: StreamMessage): void {
    for (const l of [...this.listeners]) l(m);
  }
}

const pressure: PressureView = {
  cpu: { value: 0.3, level: 'low', trend: 'steady', velocity_per_s: 0, predicted: 0.3 },
  memory: { value: 0.1, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0.1 },
  io: { value: 0, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0 },
};
const decision = (seq: number, action: Decision['action'] = 'place'): Decision => ({
  seq,
  t_ms: 1000 + seq,
  request_id: `r${seq}`,
  profile: 'web',
  action,
  start: 'cold',
  reason: 'test',
  confidence: 1,
  pressure,
  scores: [],
  inputs_digest: 'x',
  commands: [],
});

let port: FakePort;
let api: Awaited<ReturnType<typeof startApi>>;
const logs: string[] = [];
let base = '';

beforeAll(async () => {
  port = new FakePort();
  api = await startApi(port, {
    listen: '127.0.0.1:0',
    token: TOKEN,
    limits: { max_body_bytes: LIMIT },
    log: (l) => logs.push(l),
  });
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(() => api.close());
beforeEach(() => {
  port.calls.length = 0;
  port.fail = false;
  logs.length = 0;
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/schedule`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
  });

/**
 * A request through node:http, writing `chunks` one by one (chunked unless content-length is given);
 * with `Expect: 100-continue` only once the server says continue.
 */
function raw(method: string, path: string, headers: Record<string, string>, chunks: Buffer[] = []) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string; continued: boolean }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: api.port, method, path, headers });
      let continued = false;
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, continued });
          req.destroy();
        });
      });
      req.on('error', reject);
      let i = 0;
      const pump = () => {
        while (i < chunks.length) if (!req.write(chunks[i++])) return void req.once('drain', pump);
        req.end();
      };
      if (headers.expect === undefined) return pump();
      req.on('continue', () => {
        continued = true;
        pump();
      });
      req.flushHeaders();
    },
  );
}
const schedHeaders = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

describe('POST /v1/schedule', () => {
  it('answers 401 with WWW-Authenticate without a token or with a wrong one', async () => {
    for (const headers of [
      { authorization: '' },
      { authorization: `Bearer ${'b'.repeat(64)}` },
      { authorization: `Basic ${TOKEN}` },
    ]) {
      const r = await post('{"profile":"web"}', headers);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
    expect(port.calls).toEqual([]);
  });

  it('relays a valid body with defaults applied and priority names mapped to numbers', async () => {
    const r = await post(JSON.stringify({ profile: 'web', priority: 'high', cpus: 0.5 }));
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(await r.json()).toEqual({ action: 'place' });
    const r2 = await post(JSON.stringify({ profile: 'batch.job-1', payload: { any: ['thing'] } }), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(r2.status).toBe(200);
    expect(port.calls).toEqual([
      { profile: 'web', priority: 2, cpus: 0.5, wait: false },
      { profile: 'batch.job-1', priority: 1, payload: { any: ['thing'] }, wait: false },
    ]);
  });

  it('answers 413 up front for a declared Content-Length over the limit', async () => {
    const body = Buffer.alloc(4 * LIMIT, 0x20);
    const r = await raw('POST', '/v1/schedule', { ...schedHeaders, 'content-length': String(body.length) }, [body]);
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe('close');
    expect(JSON.parse(r.body).error).toMatch(/larger than 1024 bytes/);
  });

  it('answers 413 for a chunked body that grows past the limit while streaming', async () => {
    const chunks = Array.from({ length: 64 }, () => Buffer.alloc(256, 0x20)); // 16 KiB in 256-byte chunks
    const r = await raw('POST', '/v1/schedule', schedHeaders, chunks);
    expect(r.status).toBe(413);
    expect(port.calls).toEqual([]);
  });

  it('does not invite a body it will refuse (Expect: 100-continue), and does invite one it accepts', async () => {
    const big = Buffer.alloc(4 * LIMIT, 0x20);
    const r = await raw(
      'POST',
      '/v1/schedule',
      { ...schedHeaders, expect: '100-continue', 'content-length': String(big.length) },
      [big],
    );
    expect([r.status, r.continued]).toEqual([413, false]);
    const ok = Buffer.from('{"profile":"web"}');
    const r2 = await raw(
      'POST',
      '/v1/schedule',
      { ...schedHeaders, expect: '100-continue', 'content-length': String(ok.length) },
      [ok],
    );
    expect([r2.status, r2.continued]).toEqual([200, true]);
  });

  it('answers 400 naming the JSON error for invalid JSON', async () => {
    const r = await post('{"profile": "web",');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/^invalid JSON: /);
  });

  it('answers 400 listing every schema problem', async () => {
    const r = await post(JSON.stringify({ profile: 'web', priority: 7, bogus: 1 }));
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: string; problems: string[] };
    expect(body.problems).toContain('bogus: unknown key');
    expect(body.problems.some((p) => p.startsWith('priority: '))).toBe(true);
    const r2 = await post(JSON.stringify({ profile: '../etc', cpus: -1 }));
    expect(((await r2.json()) as { problems: string[] }).problems.map((p) => p.split(':')[0])).toEqual([
      'profile',
      'cpus',
    ]);
    expect(port.calls).toEqual([]);
  });

  it('answers 415 for a body that is not application/json', async () => {
    const r = await post('{"profile":"web"}', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
  });

  it('answers 500 with a generic message when the agent throws, details only in the log', async () => {
    port.fail = true;
    const r = await post('{"profile":"web"}');
    expect(r.status).toBe(500);
    expect(JSON.stringify(await r.json())).not.toMatch(/secret/);
    expect(logs.join('\n')).toMatch(/secret internal detail/);
  });
});

describe('other routes', () => {
  it('serves state, health, 404 and 405', async () => {
    const s = await fetch(`${base}/v1/state`);
    expect([s.status, await s.json()]).toEqual([200, { mode: 'pool', ok: true }]);
    const h = await fetch(`${base}/healthz`);
    expect([h.status, await h.text()]).toEqual([200, 'ok']);
    const n = await fetch(`${base}/nope?x=1`);
    expect(n.status).toBe(404);
    expect(n.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const m = await fetch(`${base}/v1/schedule`);
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST');
    const d = await fetch(`${base}/v1/state`, { method: 'DELETE' });
    expect([d.status, d.headers.get('allow')]).toEqual([405, 'GET']);
  });

  it('refuses requests addressed to a non-loopback Host (DNS rebinding)', async () => {
    const r = await raw('GET', '/v1/state', { host: 'evil.example' });
    expect(r.status).toBe(421);
    expect((await raw('GET', '/v1/state', { host: `localhost:${api.port}` })).status).toBe(200);
  });

  it('exposes Prometheus text with fgo_ and default process metrics', async () => {
    port.metrics.observeDecision(decision(1), 0.0004);
    port.metrics.observeDecision(decision(2, 'defer'), 0.0002);
    port.metrics.observeCommands([{ type: 'stop', fragment: 'f1', reason: 'x' }]);
    port.metrics.enforcementError('mbind');
    const obs: Observation = {
      t_ms: 1,
      psi: {
        cpu: { some: { avg10: 0.25, avg60: 0.1, avg300: 0.05 } },
        memory: { some: { avg10: 0, avg60: 0, avg300: 0 }, full: { avg10: 0.01, avg60: 0, avg300: 0 } },
        io: { some: { avg10: 0, avg60: 0, avg300: 0 } },
      },
      nodes: [{ id: 0, cpu_util: 0.5, mem_free_kb: 1024 }],
    };
    port.metrics.observeSample(obs);
    const status = {
      pressure,
      deferred: 0,
      nodes: [
        { id: 0, fragments: 3 },
        { id: 1, fragments: 2 },
      ],
      pools: [{ profile: 'web', starting: 1, warm: 2, active: 2, draining: 0, stopped: 0, failed: 0 }],
    } as unknown as Status;
    port.metrics.observeStatus(status);
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      // Values as Prometheus parses them (Go's ParseFloat: NaN in any case). prom-client prints
      // "Nan" for the event-loop lag before its first once-a-second sample.
      const m =
        /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(
          line,
        );
      expect(m, `not exposition format: ${line}`).not.toBeNull();
      samples.set(m![1]!, Number(m![2]));
    }
    expect(samples.get('fgo_decisions_total{action="place"}')).toBe(1);
    expect(samples.get('fgo_decisions_total{action="defer"}')).toBe(1);
    expect(samples.get('fgo_cold_starts_total')).toBe(1);
    expect(samples.get('fgo_commands_total{type="stop"}')).toBe(1);
    expect(samples.get('fgo_enforcement_errors_total{op="mbind"}')).toBe(1);
    expect(samples.get('fgo_decision_duration_seconds_count')).toBe(2);
    expect(samples.get('fgo_pressure_ratio{resource="cpu",line="some",window="avg10"}')).toBe(0.25);
    expect(samples.has('fgo_pressure_ratio{resource="cpu",line="full",window="avg10"}')).toBe(false);
    expect(samples.get('fgo_pressure_signal_ratio{resource="cpu"}')).toBe(0.3);
    expect(samples.get('fgo_node_memory_free_bytes{node="0"}')).toBe(1024 * 1024);
    expect(samples.get('fgo_pool_fragments{profile="web",state="warm"}')).toBe(2);
    expect(samples.get('fgo_fragments_managed')).toBe(5);
    expect(samples.get('fgo_api_requests_total{route="state",code="200"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('fgo_api_requests_total{route="other",code="404"}')).toBeGreaterThanOrEqual(1);
    expect(samples.has('process_cpu_user_seconds_total')).toBe(true);
    expect(samples.has('nodejs_heap_size_used_bytes')).toBe(true);
  });
});

describe('WebSocket /v1/stream', () => {
  const open = (path = '/v1/stream', headers: Record<string, string> = {}) =>
    new WebSocket(`ws://127.0.0.1:${api.port}${path}`, { headers });
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond()).toBe(true);
  };

  it('delivers every published message in order and unsubscribes on close', async () => {
    const ws = open();
    const got: StreamMessage[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d)) as StreamMessage));
    await new Promise((r) => ws.once('open', r));
    await until(() => port.listeners.size === 1);
    ws.send('ignored'); // incoming messages are ignored, not an error
    const sent: StreamMessage[] = [
      { type: 'decision', decision: decision(1) },
      { type: 'command', t_ms: 5, command: { type: 'stop', fragment: 'f', reason: 'idle' } },
      { type: 'event', t_ms: 6, level: 'warn', text: 'hello' },
    ];
    for (const m of sent) port.publish(m);
    await until(() => got.length === 3);
    expect(got).toEqual(sent);
    ws.close();
    await until(() => port.listeners.size === 0);
  });

  it('drops a client that falls more than 1 MiB behind with close code 1013', async () => {
    const ws = open();
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    await until(() => port.listeners.size === 1);
    ws.pause(); // stop reading: the kernel buffers fill, then the server's send queue grows
    const text = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 1000 && port.listeners.size > 0; i++) {
      port.publish({ type: 'event', t_ms: i, level: 'info', text });
      await new Promise((r) => setImmediate(r));
    }
    expect(port.listeners.size).toBe(0);
    ws.resume();
    expect(await closed).toBe(1013);
    expect(logs.join('\n')).toMatch(/too slow/);
  });

  it("refuses other upgrade paths with 404 and foreign browser origins with 403; the agent's own origin may subscribe", async () => {
    const status = (ws: WebSocket) =>
      new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', () => resolve(-1));
      });
    expect(await status(open('/v1/other'))).toBe(404);
    expect(await status(open('/v1/stream', { origin: 'https://evil.example' }))).toBe(403);
    expect(await status(open('/v1/stream', { origin: 'http://localhost:1' }))).toBe(403); // another local port is another origin
    expect(port.listeners.size).toBe(0);
    // A page the agent itself serves (the live dashboard) comes from the same origin.
    const own = open('/v1/stream', { origin: `http://${api.host}:${api.port}` });
    await new Promise((resolve, reject) => {
      own.once('open', resolve);
      own.once('error', reject);
    });
    own.close();
  });
});

describe('token file', () => {
  let dir = '';
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'fgo-token-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a 0600 token in a 0700 directory once, then reads the same token', () => {
    const path = join(dir, 'new', 'token');
    const a = loadOrCreateToken(path);
    expect(a.created).toBe(true);
    expect(a.token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'new')).mode & 0o777).toBe(0o700);
    expect(loadOrCreateToken(path)).toEqual({ token: a.token, created: false });
  });

  it('refuses a group/other-readable file, a symlink, a directory, an empty or a short token, naming path and fix', () => {
    const loose = join(dir, 'loose');
    writeFileSync(loose, TOKEN, { mode: 0o600 });
    chmodSync(loose, 0o644);
    expect(() => loadOrCreateToken(loose)).toThrow(
      `token file ${loose}: is accessible by group/others (mode 644); fix: chmod 600 ${loose}`,
    );
    const link = join(dir, 'link');
    symlinkSync(join(dir, 'new', 'token'), link);
    expect(() => loadOrCreateToken(link)).toThrow(new RegExp(`${link}: is a symlink.*fix: rm ${link}`));
    expect(lstatSync(link).isSymbolicLink()).toBe(true); // untouched
    mkdirSync(join(dir, 'adir'));
    expect(() => loadOrCreateToken(join(dir, 'adir'))).toThrow(/not a regular file/);
    writeFileSync(join(dir, 'empty'), '\n', { mode: 0o600 });
    expect(() => loadOrCreateToken(join(dir, 'empty'))).toThrow(/is empty/);
    writeFileSync(join(dir, 'short'), 'abc\n', { mode: 0o600 });
    expect(() => loadOrCreateToken(join(dir, 'short'))).toThrow(/shorter than 32/);
  });

  it('checks bearer headers exactly', () => {
    expect(checkBearer(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(checkBearer(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    for (const h of [
      undefined,
      '',
      'Bearer',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(1)}`,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN} extra`,
    ]) {
      expect(checkBearer(h, TOKEN)).toBe(false);
    }
    expect(checkBearer('Bearer ', '')).toBe(false);
  });
});

describe('listen addresses', () => {
  it('parses host:port and [v6]:port', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('localhost:65535')).toEqual({ host: 'localhost', port: 65535 });
  });

  it('refuses bad input with a clear message', () => {
    expect(() => parseListen('127.0.0.1')).toThrow(/expected host:port/);
    expect(() => parseListen('127.0.0.1:')).toThrow(/port must be 0–65535/);
    expect(() => parseListen('127.0.0.1:65536')).toThrow(/port must be 0–65535/);
    expect(() => parseListen('127.0.0.1:-1')).toThrow(/port must be/);
    expect(() => parseListen(':9464')).toThrow(/empty or blank host/);
    expect(() => parseListen('[]:9464')).toThrow(/empty or blank host/);
    expect(() => parseListen('::1:9464')).toThrow(/IPv6 in brackets/);
  });

  it('recognises loopback hosts', () => {
    for (const h of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      'localhost',
      'LocalHost',
      '::ffff:127.0.0.1',
    ])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.0.0.1.evil.example', 'localhost.evil.example', ''])
      expect(isLoopback(h), h).toBe(false);
  });

  it('warns when listening beyond loopback and fails cleanly on a taken port', async () => {
    const lines: string[] = [];
    const other = await startApi(new FakePort(), { listen: '0.0.0.0:0', token: TOKEN, log: (l) => lines.push(l) });
    await other.close();
    expect(lines.join('\n')).toMatch(/warning: .*non-loopback/);
    await expect(
      startApi(new FakePort(), { listen: `127.0.0.1:${api.port}`, token: TOKEN, log: () => {} }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${api.port}: address already in use (another process listens there)`);
  });
});
