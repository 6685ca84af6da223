/**
 * The API's limits against a real server on 127.0.0.1 (port 0) with an in-process AgentPort whose
 * schedule calls can be held open: nesting depth before JSON.parse, parser errors as JSON 4xx,
 * the connection table (oldest idle evicted, token holders never), stream budgets and ping
 * timeouts, and drain. The attacks against the real agent are in api-attack.test.ts.
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MAX_JSON_DEPTH } from '../../formats/json.ts';
import { parseJsonBody } from '../../serve/api-body.ts';
import { startApi, type ApiHandle } from '../../serve/api.ts';
import type { AgentPort } from '../../serve/agent-port.ts';
import type { StreamMessage } from '../../serve/stream-message.ts';
import type { ScheduleBody } from '../../serve/schedule-body.ts';
import type { ApiLimits } from '../../serve/limits.ts';
import { AgentMetrics } from '../../serve/metrics.ts';

const TOKEN = 'c'.repeat(64);
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

/** An AgentPort whose schedule answers only when the test releases it (`hold`), else at once. */
class HoldingPort implements AgentPort {
  readonly mode = 'pool' as const;
  readonly metrics = new AgentMetrics();
  readonly calls: ScheduleBody[] = [];
  readonly listeners = new Set<(m: StreamMessage) => void>();
  hold = false;
  private readonly held: Array<() => void> = [];
  schedule(body: ScheduleBody): Promise<{ status: number; body: unknown }> {
    this.calls.push(body);
    const answer = { status: 200, body: { action: 'place' } };
    if (!this.hold) return Promise.resolve(answer);
    return new Promise((resolve) => this.held.push(() => resolve(answer)));
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
  get waiting(): number {
    return this.held.length;
  }
  state(): unknown {
    return { ok: true };
  }
  subscribe(l: (m: StreamMessage) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

let api: ApiHandle | undefined;
const sockets: Socket[] = [];
const streams: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const w of streams.splice(0)) w.terminate();
  await api?.close();
  api = undefined;
});

async function serve(limits: Partial<ApiLimits> = {}, port = new HoldingPort()) {
  api = await startApi(port, { listen: '127.0.0.1:0', token: TOKEN, limits, log: () => {} });
  return { port, base: `http://127.0.0.1:${api.port}` };
}

/** Write `text` on a fresh connection; resolves with everything the server sent until it closed. */
function rawExchange(p: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(p, '127.0.0.1');
    sockets.push(s);
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.write(text);
  });
}
const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
const bodyOf = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: string };

/** A connection that has sent half a request line and nothing more; resolves once it is open. */
function silent(p: number): Promise<Socket & { gone: boolean }> {
  return new Promise((resolve) => {
    const s = connect(p, '127.0.0.1') as Socket & { gone: boolean };
    s.gone = false;
    sockets.push(s);
    s.on('error', () => {});
    s.on('close', () => (s.gone = true));
    s.on('connect', () => {
      s.write('GET /healthz HTTP/1.1\r\n');
      resolve(s);
    });
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await sleep(10);
  expect(cond()).toBe(true);
}

describe('request bodies', () => {
  it('refuses the 60 KB body of 30,000 nested arrays with 400 naming the depth and place, before the agent sees it', async () => {
    const { port, base } = await serve();
    const prefix = '{"profile":"web","payload":'; // 27 characters: the first '[' is at column 28
    const body = `${prefix}${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    expect(body.length).toBe(60_028);
    const r = await fetch(`${base}/v1/schedule`, { method: 'POST', body, headers: AUTH });
    expect(r.status).toBe(400);
    // '{' is depth 1, so the 64th '[' (column 28 + 63) is the first at depth 65.
    expect(await r.json()).toEqual({ error: 'JSON nested deeper than 64 levels (line 1, column 91)' });
    expect(port.calls).toEqual([]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('accepts a payload nested exactly to the limit', async () => {
    const { port, base } = await serve();
    const payload = JSON.parse('['.repeat(MAX_JSON_DEPTH - 1) + ']'.repeat(MAX_JSON_DEPTH - 1)) as unknown;
    const r = await fetch(`${base}/v1/schedule`, {
      method: 'POST',
      body: JSON.stringify({ profile: 'web', payload }),
      headers: AUTH,
    });
    expect(r.status).toBe(200);
    expect(port.calls[0]?.payload).toEqual(payload);
  });

  it('parseJsonBody: any JSON value within the depth comes back equal; any text gives a value or an error, never a throw', () => {
    const depth = (v: unknown): number =>
      typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
        const r = parseJsonBody(Buffer.from(JSON.stringify(v)));
        expect(r).toEqual(
          depth(v) <= MAX_JSON_DEPTH
            ? { value: JSON.parse(JSON.stringify(v)) }
            : expect.objectContaining({ error: expect.any(String) }),
        );
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const r = parseJsonBody(Buffer.from(bytes));
        expect('value' in r || typeof (r as { error: string }).error === 'string').toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.constantFrom('[', '{"a":'), (n, open) => {
        const close = open === '[' ? ']' : '}';
        const r = parseJsonBody(Buffer.from(`${open.repeat(n)}1${close.repeat(n)}`));
        expect('error' in r).toBe(n > MAX_JSON_DEPTH);
      }),
    );
  });

  it('answers bad UTF-8 and a body on a GET with 400 JSON', async () => {
    const { base } = await serve();
    const r = await fetch(`${base}/v1/schedule`, {
      method: 'POST',
      body: Buffer.from([0x7b, 0xff, 0x7d]),
      headers: AUTH,
    });
    expect([r.status, await r.json()]).toEqual([400, { error: 'request body is not valid UTF-8' }]);
    const g = await rawExchange(
      api!.port,
      'GET /v1/state HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello',
    );
    expect([statusOf(g), bodyOf(g)]).toEqual([400, { error: 'GET /v1/state takes no request body' }]);
  });
});

describe('request line and headers', () => {
  it('answers a long URL 414, oversized headers 431, an unknown method 400, garbage 400 — all JSON', async () => {
    await serve({ max_url_bytes: 100 });
    const p = api!.port;
    const long = await rawExchange(
      p,
      `GET /healthz?${'x'.repeat(100)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    );
    expect([statusOf(long), bodyOf(long)]).toEqual([414, { error: 'request target longer than 100 bytes' }]);
    const big = await rawExchange(p, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'y'.repeat(9000)}\r\n\r\n`);
    expect([statusOf(big), bodyOf(big)]).toEqual([431, { error: 'request line and headers larger than 8192 bytes' }]);
    const method = await rawExchange(p, 'BREW /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect([statusOf(method), bodyOf(method)]).toEqual([400, { error: 'unknown HTTP method' }]);
    const junk = await rawExchange(p, 'GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n');
    expect(statusOf(junk)).toBe(400);
    expect(bodyOf(junk).error).toMatch(/^malformed HTTP request \(HPE_/);
  });

  it('answers 408 to a client that does not finish its headers in time', async () => {
    await serve({ headers_timeout_ms: 300, request_timeout_ms: 600, timeout_check_interval_ms: 100 });
    const r = await rawExchange(api!.port, 'GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n');
    expect([statusOf(r), bodyOf(r)]).toEqual([
      408,
      { error: 'headers not complete within 300 ms, or the whole request within 600 ms' },
    ]);
  });
});

describe('connection table', () => {
  it('evicts the oldest idle connection to let a newcomer in, so /healthz is served with the table full', async () => {
    const { port, base } = await serve({ max_connections: 8, max_connections_per_address: 8 });
    const idle: Array<Socket & { gone: boolean }> = [];
    for (let i = 0; i < 8; i++) idle.push(await silent(api!.port));
    const r = await fetch(`${base}/healthz`);
    expect([r.status, await r.text()]).toEqual([200, 'ok']);
    await until(() => idle[0]!.gone);
    expect(idle.slice(1).map((s) => s.gone)).toEqual(Array(7).fill(false)); // only the oldest
    expect(await port.metrics.text()).toMatch(/^fgo_api_connections_shed_total\{reason="evicted"\} 1$/m);
  });

  it('never evicts an authenticated request in progress; a newcomer is refused only when every slot holds one', async () => {
    const { port, base } = await serve({ max_connections: 3, max_connections_per_address: 3 });
    port.hold = true;
    const held = [0, 1].map(() =>
      fetch(`${base}/v1/schedule`, { method: 'POST', body: '{"profile":"web"}', headers: AUTH }),
    );
    await until(() => port.waiting === 2);
    const idle = await silent(api!.port);
    const r = await fetch(`${base}/healthz`); // evicts the idle one, not a held request
    expect(r.status).toBe(200);
    await until(() => idle.gone);
    const third = fetch(`${base}/v1/schedule`, { method: 'POST', body: '{"profile":"web"}', headers: AUTH });
    await until(() => port.waiting === 3);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow(); // all three slots serve token holders
    port.release();
    expect((await Promise.all([...held, third])).map((x) => x.status)).toEqual([200, 200, 200]);
    expect(await port.metrics.text()).toMatch(/^fgo_api_connections_shed_total\{reason="refused"\} 1$/m);
  });
});

describe('stream budgets', () => {
  const open = (p: number, headers: Record<string, string> = {}, o: { autoPong?: boolean } = {}) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p}/v1/stream`, { headers, ...o });
    streams.push(ws);
    ws.on('error', () => {}); // a refused handshake also errors; the status says it
    return new Promise<{ ws: WebSocket; status: number; body?: string }>((resolve) => {
      ws.once('open', () => resolve({ ws, status: 101 }));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res
          .on('data', (c: Buffer) => (body += c))
          .on('end', () =>
            resolve({ ws, status: res.statusCode ?? 0, body: `${res.headers['retry-after'] ?? ''}|${body}` }),
          );
      });
    });
  };

  it('gives anonymous clients a few streams, token holders their own, and answers 503 with Retry-After beyond', async () => {
    await serve({ max_streams_anonymous: 3, max_streams_anonymous_per_address: 2, max_streams_authenticated: 1 });
    const p = api!.port;
    expect((await open(p)).status).toBe(101);
    expect((await open(p)).status).toBe(101);
    const third = await open(p);
    expect([third.status, third.body]).toEqual([
      503,
      '5|{"error":"2 streams without a token are open from 127.0.0.1; send Authorization: Bearer <token> for a reserved one"}',
    ]);
    expect((await open(p, { authorization: `Bearer ${TOKEN}` })).status).toBe(101);
    const second = await open(p, { authorization: `Bearer ${TOKEN}` });
    expect([second.status, second.body]).toEqual([503, '5|{"error":"all 1 authenticated streams are in use"}']);
    expect((await open(p, { authorization: `Bearer ${'d'.repeat(64)}` })).status).toBe(401);
    streams[0]!.close();
    await until(() => streams[0]!.readyState === WebSocket.CLOSED);
    await sleep(50); // the server's side of the close
    expect((await open(p)).status).toBe(101); // the slot is back
  });

  it('does not lose a slot to a malformed handshake (ws answers it 400)', async () => {
    await serve({ max_streams_anonymous: 1, max_streams_anonymous_per_address: 1 });
    for (let i = 0; i < 3; i++) {
      const r = await rawExchange(
        api!.port,
        'GET /v1/stream HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      expect(statusOf(r)).toBe(400); // no Sec-WebSocket-Key
    }
    expect((await open(api!.port)).status).toBe(101);
  });

  it('drops a client that does not answer pings within one interval', async () => {
    const { port } = await serve({ stream_ping_interval_ms: 150 });
    const { ws } = await open(api!.port, {}, { autoPong: false });
    const code = new Promise<number>((r) => ws.once('close', (c) => r(c)));
    expect(await code).toBe(1006); // terminated, no close frame
    await until(() => port.listeners.size === 0);
    expect(await port.metrics.text()).toMatch(/^fgo_api_connections_shed_total\{reason="stream_unresponsive"\} 1$/m);
  });
});

describe('drain', () => {
  it('answers new schedule requests 503 with Retry-After and /healthz "draining" while letting the one in flight finish', async () => {
    const { port, base } = await serve();
    port.hold = true;
    const inFlight = fetch(`${base}/v1/schedule`, { method: 'POST', body: '{"profile":"web"}', headers: AUTH });
    await until(() => port.waiting === 1);
    const drained = api!.drain(10_000);
    const late = await fetch(`${base}/v1/schedule`, { method: 'POST', body: '{"profile":"web"}', headers: AUTH });
    expect([late.status, late.headers.get('retry-after'), await late.json()]).toEqual([
      503,
      '5',
      { error: 'agent is stopping: not taking new requests' },
    ]);
    const h = await fetch(`${base}/healthz`);
    expect([h.status, await h.text()]).toEqual([503, 'draining']);
    port.release();
    expect((await inFlight).status).toBe(200);
    expect(await drained).toBe(0);
    expect(port.calls.length).toBe(1);
  });

  it('gives up after the drain timeout and says how many are still in flight', async () => {
    const { port, base } = await serve();
    port.hold = true;
    const inFlight = fetch(`${base}/v1/schedule`, { method: 'POST', body: '{"profile":"web"}', headers: AUTH });
    await until(() => port.waiting === 1);
    expect(await api!.drain(100)).toBe(1);
    port.release();
    expect((await inFlight).status).toBe(200);
  });
});
