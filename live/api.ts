/**
 * The live agent's loopback HTTP API: schedule requests (token-guarded), state, Prometheus metrics,
 * a health probe and a WebSocket stream of decisions, samples, commands and events.
 *
 * The agent runs as root, so the API is written defensively: it only validates and relays (the
 * agent decides), every input is bounded (headers, body, time, WebSocket frames, per-client send
 * buffers, metric label values), and internals never leak into responses — details go to `log`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { formatIssues } from '../engine/schemas.ts';
import { PRIORITY, type Command, type Decision, type NodeObservation, type PressureView, type PsiSet } from '../engine/types.ts';
import type { AgentMetrics } from './metrics.ts';
import { checkBearer } from './token.ts';
import { dashboardAsset, dashboardHtml, DASHBOARD_CSP } from './dashboard.ts';

export type StreamMessage =
  | { type: 'decision'; decision: Decision }
  | { type: 'sample'; t_ms: number; psi: PsiSet; pressure?: PressureView; nodes?: NodeObservation[] }
  | { type: 'command'; t_ms: number; command: Command }
  | { type: 'event'; t_ms: number; level: 'info' | 'warn' | 'error'; text: string };

/**
 * Body of POST /v1/schedule. Priority names are mapped to the engine's numbers here, so the agent
 * always receives 0–3 (`ScheduleBody['priority']` is a number).
 */
export const scheduleBodySchema = z.strictObject({
  profile: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'profile names are 1–64 of A–Z a–z 0–9 _ . -'),
  priority: z
    .union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.enum(['low', 'normal', 'high', 'critical'])], {
      error: 'priority is 0–3 or one of low, normal, high, critical',
    })
    .transform((p) => (typeof p === 'number' ? p : PRIORITY[p]))
    .default(1),
  memory_home: z.number().int().min(0).max(4095).optional(),
  cpus: z.number().positive().max(1024).optional(),
  memory_kb: z.number().int().min(0).max(2 ** 40).optional(),
  exclusive_cpus: z.number().int().min(0).max(1024).optional(),
  payload: z.unknown().optional(),
  wait: z.boolean().default(false),
});
export type ScheduleBody = z.infer<typeof scheduleBodySchema>;

export interface AgentPort {
  readonly mode: 'adopt' | 'pool';
  /** The agent decides; the API only validates and relays. */
  schedule(body: ScheduleBody): Promise<{ status: number; body: unknown }>;
  /** JSON for GET /v1/state. */
  state(): unknown;
  readonly metrics: AgentMetrics;
  /** Register a stream listener; returns the unsubscribe function. */
  subscribe(listener: (m: StreamMessage) => void): () => void;
}

export interface ApiOptions {
  /** "127.0.0.1:9464", "[::1]:0", "localhost:9464"; port 0 = any free port. */
  listen: string;
  token: string;
  /** Largest accepted request body; default 64 KiB. */
  max_body_bytes?: number;
  /** Title of the dashboard page. */
  title?: string;
  log?: (line: string) => void;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
const DEFAULT_MAX_BODY = 64 * 1024;
/** A stream client further behind than this is dropped: one stuck reader must not grow the agent's memory. */
const MAX_WS_BUFFERED = 1024 * 1024;
/** Grace before destroying a connection whose body we refused, so the client can read the response first. */
const REJECT_LINGER_MS = 1000;

/** Fixed route names (also the `route` metric label, so a scan of random paths cannot add series). */
const ROUTES: Record<string, { name: string; method: string }> = {
  '/v1/schedule': { name: 'schedule', method: 'POST' },
  '/v1/state': { name: 'state', method: 'GET' },
  '/metrics': { name: 'metrics', method: 'GET' },
  '/healthz': { name: 'healthz', method: 'GET' },
  '/v1/stream': { name: 'stream', method: 'GET' },
  '/': { name: 'dashboard', method: 'GET' },
  '/dashboard': { name: 'dashboard', method: 'GET' },
};

const routeOf = (path: string) => (Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined);
const pathOf = (req: IncomingMessage) => (req.url ?? '').split('?')[0] ?? '';

/** "host:port" or "[v6]:port" → parts. Unbracketed IPv6 is refused: "::1:80" is ambiguous. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(s) ?? /^([^:[\]]*):([^:]*)$/.exec(s);
  if (!m) {
    throw new Error(`listen address "${s}": expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (IPv6 in brackets)`);
  }
  const host = m[1] ?? '', portText = m[2] ?? '';
  if (host.trim() === '' || /\s/.test(host)) throw new Error(`listen address "${s}": empty or blank host`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`listen address "${s}": port must be 0–65535 (0 picks a free port)`);
  }
  return { host, port: Number(portText) };
}

/** 127.0.0.0/8, ::1 (also spelled out or IPv4-mapped) and localhost. */
export function isLoopback(host: string): boolean {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (h.startsWith('::ffff:')) h = h.slice(7);
  return isIPv4(h) && h.startsWith('127.');
}

/** Host header without its port ("[::1]:80" → "[::1]", "localhost:80" → "localhost"). */
function hostOf(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0] ?? '';
}

export async function startApi(port: AgentPort, o: ApiOptions): Promise<{ host: string; port: number; close(): Promise<void> }> {
  const { host, port: listenPort } = parseListen(o.listen);
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const maxBody = o.max_body_bytes ?? DEFAULT_MAX_BODY;
  const loopback = isLoopback(host);
  if (!loopback) log(`warning: API listening on non-loopback address ${host}; the bearer token and the stream travel unencrypted`);

  // A page in a browser on this host could reach a loopback API through DNS rebinding (evil.example
  // resolving to 127.0.0.1); such requests carry the attacker's name in Host, so a loopback-bound
  // API answers only requests addressed to a loopback name.
  const hostAllowed = (req: IncomingMessage) => !loopback || req.headers.host === undefined || isLoopback(hostOf(req.headers.host));

  const json = (res: ServerResponse, route: string, code: number, body: unknown, extra: Record<string, string> = {}) => {
    const text = JSON.stringify(body) ?? 'null';
    res.writeHead(code, { ...COMMON_HEADERS, 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(text)), ...extra });
    res.end(text);
    port.metrics.apiRequest(route, code);
  };

  /**
   * Answer a request whose body we will not read, then drop the connection: stop reading, let the
   * response and our FIN go out, and destroy the socket after a short grace. Destroying at once with
   * unread input makes the kernel send RST, which can discard the response before the client reads it;
   * reading on (Node's default) would let a client stream an endless body at us.
   */
  const refuse = (req: IncomingMessage, res: ServerResponse, route: string, code: number, body: unknown, extra: Record<string, string> = {}) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody || req.complete) return json(res, route, code, body, extra);
    const socket = req.socket;
    socket.destroySoon = () => socket.end(); // Node calls this after a `Connection: close` response
    // Node resumes an unread request once the response is finished (to drain it); pause after that.
    res.once('finish', () => setImmediate(() => {
      req.pause();
      socket.pause();
    }));
    setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
    json(res, route, code, body, { ...extra, Connection: 'close' });
  };

  async function schedule(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!checkBearer(req.headers.authorization, o.token)) {
      return refuse(req, res, 'schedule', 401, { error: 'missing or invalid bearer token' }, { 'WWW-Authenticate': 'Bearer realm="fgo"' });
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') return refuse(req, res, 'schedule', 415, { error: 'Content-Type must be application/json' });
    const tooLarge = { error: `request body larger than ${maxBody} bytes` };
    if (Number(req.headers['content-length'] ?? 0) > maxBody) return refuse(req, res, 'schedule', 413, tooLarge);

    // Only now, with the headers accepted, invite a client that sent `Expect: 100-continue` to send the body.
    if (/100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
    const raw = await readBody(req, maxBody);
    if (raw === 'too_large') return refuse(req, res, 'schedule', 413, tooLarge);
    if (raw === 'aborted') return;
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
    } catch (e) {
      return json(res, 'schedule', 400, { error: `invalid JSON: ${(e as Error).message}` });
    }
    const parsed = scheduleBodySchema.safeParse(value);
    if (!parsed.success) return json(res, 'schedule', 400, { error: 'invalid schedule request', problems: formatIssues(parsed.error.issues) });
    const answer = await port.schedule(parsed.data);
    if (!Number.isInteger(answer.status) || answer.status < 200 || answer.status > 599) throw new Error(`agent answered with status ${answer.status}`);
    // A 503 that says when to come back (pool mode's open circuit breaker, a stopping agent) gets Retry-After.
    const retry = (answer.body as { retry_after_s?: unknown } | null)?.retry_after_s;
    json(res, 'schedule', answer.status, answer.body, answer.status === 503 && Number.isInteger(retry) ? { 'Retry-After': String(retry) } : {});
  }

  const page = (res: ServerResponse, type: string, body: string) => {
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), 'Content-Security-Policy': DASHBOARD_CSP });
    res.end(body);
    port.metrics.apiRequest('dashboard', 200);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const route = routeOf(path);
    if (!hostAllowed(req)) return refuse(req, res, route?.name ?? 'other', 421, { error: 'Host is not a loopback name' });
    if (path === '/favicon.ico') {
      // Browsers ask for it with every dashboard load; an empty answer keeps their console clean.
      res.writeHead(204, COMMON_HEADERS);
      return void res.end();
    }
    const asset = req.method === 'GET' && path.startsWith('/assets/') ? dashboardAsset(path) : undefined;
    if (asset !== undefined) return page(res, 'text/javascript; charset=utf-8', asset);
    if (!route) return refuse(req, res, 'other', 404, { error: `no route ${req.method ?? ''} ${path}` });
    if (req.method !== route.method) return refuse(req, res, route.name, 405, { error: `${path} allows ${route.method} only` }, { Allow: route.method });
    switch (route.name) {
      case 'schedule':
        return schedule(req, res);
      case 'state':
        return json(res, 'state', 200, port.state());
      case 'metrics': {
        const text = await port.metrics.text();
        res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': port.metrics.contentType, 'Content-Length': String(Buffer.byteLength(text)) });
        res.end(text);
        return port.metrics.apiRequest('metrics', 200);
      }
      case 'dashboard':
        return page(res, 'text/html; charset=utf-8', dashboardHtml(o.title ?? `fgo ${port.mode} agent`));
      case 'healthz':
        res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
        res.end('ok');
        return port.metrics.apiRequest('healthz', 200);
      default: // /v1/stream without an Upgrade header
        return json(res, 'stream', 426, { error: 'GET /v1/stream is a WebSocket endpoint' }, { Upgrade: 'websocket' });
    }
  }

  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      const path = pathOf(req);
      log(`api: ${req.method ?? '?'} ${path} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (res.headersSent) res.destroy();
      else json(res, routeOf(path)?.name ?? 'other', 500, { error: 'internal error (details in the agent log)' });
    });
  };
  const server = createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 10_000, headersTimeout: 10_000 }, dispatch);
  // Node would answer `Expect: 100-continue` itself before we saw the headers; schedule() decides instead.
  server.on('checkContinue', dispatch);
  // Slowloris guards: whole request (headers and body) within 10 s; idle keep-alive sockets go after 5 s.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 256;

  // Browsers always send Origin on WebSocket handshakes and, unlike fetch, do not apply CORS to
  // them, so any web page could read the stream. Only the agent's own pages (same origin as the
  // Host the request came to, itself checked above) and tools that send no Origin get it.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024, perMessageDeflate: false });
  const encoded = new WeakMap<StreamMessage, string>(); // one JSON.stringify per message, not per client
  const encode = (m: StreamMessage) => {
    let s = encoded.get(m);
    if (s === undefined) encoded.set(m, (s = JSON.stringify(m)));
    return s;
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = pathOf(req);
    // Node removes its own error handler from upgraded sockets; a reset here must not crash the agent.
    socket.on('error', () => {});
    const deny = (code: number, text: string) => {
      socket.once('finish', () => socket.destroy());
      socket.end(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Length: 0\r\nCache-Control: no-store\r\n\r\n`);
      port.metrics.apiRequest(path === '/v1/stream' ? 'stream' : 'other', code);
    };
    if (path !== '/v1/stream') return deny(404, 'Not Found');
    if (!hostAllowed(req)) return deny(421, 'Misdirected Request');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) return deny(403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => {
      port.metrics.apiRequest('stream', 101);
      let dropped = false;
      let unsubscribe = () => {};
      const drop = () => {
        if (dropped) return;
        dropped = true;
        unsubscribe();
      };
      const u = port.subscribe((m) => {
        if (dropped || ws.readyState !== WebSocket.OPEN) return;
        if (ws.bufferedAmount > MAX_WS_BUFFERED) {
          log(`api: stream client too slow (${ws.bufferedAmount} bytes queued), dropped`);
          drop();
          ws.close(1013, 'too slow, reconnect');
          return;
        }
        try {
          ws.send(encode(m));
        } catch (e) {
          log(`api: stream send failed: ${(e as Error).message}`);
        }
      });
      unsubscribe = u;
      if (dropped) u(); // dropped while subscribe() was still running
      ws.on('message', () => {}); // incoming messages are ignored; maxPayload bounds them
      ws.on('error', (e) => log(`api: stream client error: ${e.message}`));
      ws.on('close', drop);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: listenPort }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log(`api: server error: ${e.message}`));
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host, port: listenPort };

  return {
    ...bound,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** The body as bytes, or why it could not be read; stops listening as soon as it passes `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: Buffer | 'too_large' | 'aborted') => {
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) finish('too_large');
      else chunks.push(c);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onAbort = () => finish('aborted');
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('close', onAbort);
  });
}
