/**
 * The live agent's loopback HTTP API: schedule requests (token-guarded), state, Prometheus metrics,
 * a health probe and a WebSocket stream of decisions, samples, commands and events.
 *
 * The agent runs as root, so the API is written defensively: it only validates and relays (the
 * agent decides), every input is bounded (headers, body, time, WebSocket frames, per-client send
 * buffers, metric label values), and internals never leak into responses — details go to `log`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { formatIssues } from '../engine/schemas.ts';
import { hasBody, parseJsonBody, readBody } from './api-body.ts';
import { dashboardAsset, dashboardHtml, DASHBOARD_CSP } from './dashboard.ts';
import { API_LIMITS, ConnectionGuard, type ApiLimits } from './limits.ts';
import type { AgentPort } from './agent-port.ts';
import { isLoopback, listenError, parseListen } from './listen.ts';
import type { ApiShedReason } from './metrics.ts';
import { scheduleBodySchema } from './schedule-body.ts';
import { StreamHub } from './stream.ts';
import { checkBearer } from './token.ts';

export interface ApiOptions {
  /** "127.0.0.1:9464", "[::1]:0", "localhost:9464"; port 0 = any free port. */
  listen: string;
  token: string;
  /** Overrides of API_LIMITS (tests use small ones). */
  limits?: Partial<ApiLimits>;
  /** Title of the dashboard page. */
  title?: string;
  log?: (line: string) => void;
}

export interface ApiHandle {
  host: string;
  port: number;
  /**
   * Stop taking work: new schedule requests are answered 503 with Retry-After (and /healthz says
   * "draining"), while those in flight finish. Resolves with how many are still in flight when
   * they all have finished (0) or after `timeout_ms`.
   */
  drain(timeout_ms?: number): Promise<number>;
  /** Stop listening, close the streams, let written answers out (close_grace_ms), then cut every connection. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
/** Grace before destroying a connection whose body we refused, so the client can read the response first. */
const REJECT_LINGER_MS = 1000;
/** Under attack the limits act on every connection; the log gets one summary line per this. */
const SHED_LOG_INTERVAL_MS = 10_000;

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

/** Host header without its port ("[::1]:80" → "[::1]", "localhost:80" → "localhost"). */
function hostOf(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : (header.split(':')[0] ?? '');
}

/** Node's parser errors as answers: status, reason phrase, what the client did wrong. */
function clientErrorAnswer(code: string | undefined, L: ApiLimits): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return [431, 'Request Header Fields Too Large', `request line and headers larger than ${L.max_header_bytes} bytes`];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [
      408,
      'Request Timeout',
      `headers not complete within ${L.headers_timeout_ms} ms, or the whole request within ${L.request_timeout_ms} ms`,
    ];
  if (code === 'HPE_INVALID_METHOD') return [400, 'Bad Request', 'unknown HTTP method'];
  return [400, 'Bad Request', `malformed HTTP request (${code ?? 'parse error'})`];
}

export async function startApi(port: AgentPort, o: ApiOptions): Promise<ApiHandle> {
  const { host, port: listenPort } = parseListen(o.listen);
  const L: ApiLimits = { ...API_LIMITS, ...o.limits };
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const loopback = isLoopback(host);
  if (!loopback)
    log(`warning: API listening on non-loopback address ${host}; the bearer token and the stream travel unencrypted`);

  // A page in a browser on this host could reach a loopback API through DNS rebinding (evil.example
  // resolving to 127.0.0.1); such requests carry the attacker's name in Host, so a loopback-bound
  // API answers only requests addressed to a loopback name.
  const hostAllowed = (req: IncomingMessage) =>
    !loopback || req.headers.host === undefined || isLoopback(hostOf(req.headers.host));

  const shedCounts = new Map<ApiShedReason, number>();
  let shedLoggedAt = -Infinity;
  const shed = (reason: ApiShedReason) => {
    port.metrics.apiConnectionShed(reason);
    shedCounts.set(reason, (shedCounts.get(reason) ?? 0) + 1);
    if (performance.now() - shedLoggedAt < SHED_LOG_INTERVAL_MS) return;
    shedLoggedAt = performance.now();
    log(
      `api: connection limits in action, so far: ${[...shedCounts].map(([r, n]) => `${r} ${n}`).join(', ')} (fgo_api_connections_shed_total)`,
    );
  };
  const guard = new ConnectionGuard(L, shed);

  let draining = false;
  let inFlight = 0; // schedule requests past authentication
  const onDrained: Array<() => void> = [];
  const settle = () => {
    if (inFlight === 0) for (const done of onDrained.splice(0)) done();
  };
  const retryAfter = { 'Retry-After': String(L.retry_after_s) };

  const json = (
    res: ServerResponse,
    route: string,
    code: number,
    body: unknown,
    extra: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(body) ?? 'null';
    res.writeHead(code, {
      ...COMMON_HEADERS,
      'Content-Type': JSON_TYPE,
      'Content-Length': String(Buffer.byteLength(text)),
      ...extra,
    });
    res.end(text);
    port.metrics.apiRequest(route, code);
  };

  /**
   * Answer a request whose body we will not read, then drop the connection: stop reading, let the
   * response and our FIN go out, and destroy the socket after a short grace. Destroying at once with
   * unread input makes the kernel send RST, which can discard the response before the client reads it;
   * reading on (Node's default) would let a client stream an endless body at us.
   */
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    route: string,
    code: number,
    body: unknown,
    extra: Record<string, string> = {},
  ) => {
    if (!hasBody(req) || req.complete) return json(res, route, code, body, extra);
    const socket = req.socket;
    socket.destroySoon = () => socket.end(); // Node calls this after a `Connection: close` response
    // Node resumes an unread request once the response is finished (to drain it); pause after that.
    res.once('finish', () =>
      setImmediate(() => {
        req.pause();
        socket.pause();
      }),
    );
    setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
    json(res, route, code, body, { ...extra, Connection: 'close' });
  };

  async function schedule(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (draining)
      return refuse(
        req,
        res,
        'schedule',
        503,
        { error: 'agent is stopping: not taking new requests' },
        { ...retryAfter, Connection: 'close' },
      );
    if (!checkBearer(req.headers.authorization, o.token)) {
      return refuse(
        req,
        res,
        'schedule',
        401,
        { error: 'missing or invalid bearer token' },
        { 'WWW-Authenticate': 'Bearer realm="fgo"' },
      );
    }
    guard.mark(req.socket, 'trusted');
    inFlight++;
    try {
      await authorizedSchedule(req, res);
    } finally {
      inFlight--;
      settle();
    }
  }

  async function authorizedSchedule(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json')
      return refuse(req, res, 'schedule', 415, { error: 'Content-Type must be application/json' });
    const tooLarge = { error: `request body larger than ${L.max_body_bytes} bytes` };
    if (Number(req.headers['content-length'] ?? 0) > L.max_body_bytes)
      return refuse(req, res, 'schedule', 413, tooLarge);

    // Only now, with the headers accepted, invite a client that sent `Expect: 100-continue` to send the body.
    if (/100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
    const raw = await readBody(req, L.max_body_bytes);
    if (raw === 'too_large') return refuse(req, res, 'schedule', 413, tooLarge);
    if (raw === 'aborted') return;
    const body = parseJsonBody(raw);
    if ('error' in body) return json(res, 'schedule', 400, { error: body.error });
    const parsed = scheduleBodySchema.safeParse(body.value);
    if (!parsed.success)
      return json(res, 'schedule', 400, {
        error: 'invalid schedule request',
        problems: formatIssues(parsed.error.issues),
      });
    const answer = await port.schedule(parsed.data);
    if (!Number.isInteger(answer.status) || answer.status < 200 || answer.status > 599)
      throw new Error(`agent answered with status ${answer.status}`);
    // A 503 that says when to come back (pool mode's open circuit breaker, a stopping agent) gets
    // Retry-After, unless the agent set its headers itself (a degraded journal).
    const retry = (answer.body as { retry_after_s?: unknown } | null)?.retry_after_s;
    const retryAfter: Record<string, string> =
      answer.status === 503 && Number.isInteger(retry) ? { 'Retry-After': String(retry) } : {};
    json(res, 'schedule', answer.status, answer.body, answer.headers ?? retryAfter);
  }

  const page = (res: ServerResponse, type: string, body: string) => {
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'Content-Type': type,
      'Content-Length': String(Buffer.byteLength(body)),
      'Content-Security-Policy': DASHBOARD_CSP,
    });
    res.end(body);
    port.metrics.apiRequest('dashboard', 200);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (Buffer.byteLength(req.url ?? '') > L.max_url_bytes)
      return refuse(req, res, 'other', 414, { error: `request target longer than ${L.max_url_bytes} bytes` });
    const path = pathOf(req);
    const route = routeOf(path);
    if (!hostAllowed(req))
      return refuse(req, res, route?.name ?? 'other', 421, { error: 'Host is not a loopback name' });
    if (path === '/favicon.ico') {
      // Browsers ask for it with every dashboard load; an empty answer keeps their console clean.
      res.writeHead(204, COMMON_HEADERS);
      return void res.end();
    }
    const asset = req.method === 'GET' && path.startsWith('/assets/') ? dashboardAsset(path) : undefined;
    if (asset !== undefined) return page(res, 'text/javascript; charset=utf-8', asset);
    if (!route) return refuse(req, res, 'other', 404, { error: `no route ${req.method ?? ''} ${path}` });
    if (req.method !== route.method)
      return refuse(
        req,
        res,
        route.name,
        405,
        { error: `${path} allows ${route.method} only` },
        { Allow: route.method },
      );
    if (route.name === 'schedule') return schedule(req, res);
    // Only schedule takes a body; one sent elsewhere is not read (refuse closes the connection after answering).
    if (hasBody(req))
      return refuse(req, res, route.name, 400, { error: `${req.method ?? ''} ${path} takes no request body` });
    return serveGet(res, route.name);
  }

  async function serveGet(res: ServerResponse, route: string): Promise<void> {
    switch (route) {
      case 'state':
        return json(res, 'state', 200, port.state());
      case 'metrics': {
        const text = await port.metrics.text();
        res.writeHead(200, {
          ...COMMON_HEADERS,
          'Content-Type': port.metrics.contentType,
          'Content-Length': String(Buffer.byteLength(text)),
        });
        res.end(text);
        return port.metrics.apiRequest('metrics', 200);
      }
      case 'dashboard':
        return page(res, 'text/html; charset=utf-8', dashboardHtml(o.title ?? `fgo ${port.mode} agent`));
      case 'healthz': {
        const [code, text] = draining ? [503, 'draining'] : [200, 'ok'];
        res.writeHead(code, {
          ...COMMON_HEADERS,
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Length': String(text.length),
          ...(draining ? retryAfter : {}),
        });
        res.end(text);
        return port.metrics.apiRequest('healthz', code);
      }
      default: // /v1/stream without an Upgrade header
        return json(res, 'stream', 426, { error: 'GET /v1/stream is a WebSocket endpoint' }, { Upgrade: 'websocket' });
    }
  }

  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    guard.mark(req.socket, 'busy');
    res.once('close', () => guard.mark(req.socket, 'idle'));
    handle(req, res).catch((e: unknown) => {
      const path = pathOf(req);
      log(`api: ${req.method ?? '?'} ${path} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (res.headersSent) res.destroy();
      else json(res, routeOf(path)?.name ?? 'other', 500, { error: 'internal error (details in the agent log)' });
    });
  };
  const server = createServer(
    {
      maxHeaderSize: L.max_header_bytes,
      requestTimeout: L.request_timeout_ms,
      headersTimeout: L.headers_timeout_ms,
      keepAliveTimeout: L.keep_alive_timeout_ms,
      connectionsCheckingInterval: L.timeout_check_interval_ms,
    },
    dispatch,
  );
  // Node would answer `Expect: 100-continue` itself before we saw the headers; schedule() decides instead.
  server.on('checkContinue', dispatch);
  server.on('connection', (socket: Socket) => guard.admit(socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset peer cannot be answered, nor a connection already sending an answer (the error came from a pipelined request).
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || answering) return void socket.destroy();
    const [code, text, error] = clientErrorAnswer(err.code, L);
    const body = JSON.stringify({ error });
    socket.end(
      `HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nCache-Control: no-store\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
    port.metrics.apiRequest('other', code);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    guard.forget(req.socket); // a stream counts against the stream budgets from here on
    streams.upgrade(req, socket, head, pathOf(req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(listenError(o.listen, e)));
    server.listen({ host, port: listenPort }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  server.on('error', (e) => log(`api: server error: ${e.message}`));
  // Made once listening (its ping timer would outlive a failed listen); upgrades cannot come before.
  const streams = new StreamHub(port, { limits: L, token: o.token, log, shed, hostAllowed });
  const addr = server.address();
  const bound =
    typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host, port: listenPort };

  return {
    ...bound,
    drain: (timeout_ms = L.drain_timeout_ms) => {
      draining = true;
      return new Promise<number>((resolve) => {
        const timer = setTimeout(() => resolve(inFlight), timeout_ms);
        onDrained.push(() => {
          clearTimeout(timer);
          resolve(0);
        });
        settle();
      });
    },
    close: async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve())); // also closes idle keep-alives
      await streams.close(L.close_grace_ms);
      for (const end = performance.now() + L.close_grace_ms; guard.busy > 0 && performance.now() < end; )
        await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
    },
  };
}
