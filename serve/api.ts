/**
 * The live agent's loopback HTTP API: schedule requests (token-guarded), state, Prometheus metrics,
 * a health probe and a WebSocket stream of decisions, samples, commands and events.
 *
 * The agent runs as root, so the API is written defensively: it only validates and relays (the
 * agent decides), every input is bounded (headers, body, time, WebSocket frames, per-client send
 * buffers, metric label values), and internals never leak into responses — details go to `log`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AgentPort } from './agent-port.ts';
import type { ApiContext } from './api-context.ts';
import { JSON_TYPE, REJECT_LINGER_MS, sendJson } from './api-responses.ts';
import { handleRequest, pathOf, routeOf } from './api-routes.ts';
import { InFlight } from './in-flight.ts';
import { API_LIMITS, type ApiLimits, ConnectionGuard } from './limits.ts';
import { isLoopback, listenError, parseListen } from './listen.ts';
import type { ApiShedReason } from './metrics.ts';
import { StreamHub } from './stream.ts';

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

/** Under attack the limits act on every connection; the log gets one summary line per this. */
const SHED_LOG_INTERVAL_MS = 10_000;

/** Host header without its port ("[::1]:80" → "[::1]", "localhost:80" → "localhost"). */
function hostOf(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : (header.split(':')[0] ?? '');
}

/** Node's parser errors as answers: status, reason phrase, what the client did wrong. */
function clientErrorAnswer(code: string | undefined, limits: ApiLimits): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return [
      431,
      'Request Header Fields Too Large',
      `request line and headers larger than ${limits.max_header_bytes} bytes`,
    ];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [
      408,
      'Request Timeout',
      `headers not complete within ${limits.headers_timeout_ms} ms, ` +
        `or the whole request within ${limits.request_timeout_ms} ms`,
    ];
  if (code === 'HPE_INVALID_METHOD') return [400, 'Bad Request', 'unknown HTTP method'];
  return [400, 'Bad Request', `malformed HTTP request (${code ?? 'parse error'})`];
}

export async function startApi(port: AgentPort, opts: ApiOptions): Promise<ApiHandle> {
  const { host, port: listenPort } = parseListen(opts.listen);
  const limits: ApiLimits = { ...API_LIMITS, ...opts.limits };
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loopback = isLoopback(host);
  if (!loopback)
    log(`warning: API listening on non-loopback address ${host}; the bearer token and the stream travel unencrypted`);
  const shed = shedReporter(port, log);
  const ctx: ApiContext = {
    port,
    limits,
    token: opts.token,
    title: opts.title ?? `fgo ${port.mode} agent`,
    log,
    guard: new ConnectionGuard(limits, shed),
    work: new InFlight(),
    hostAllowed: hostCheck(loopback),
  };
  const server = createHttpServer(ctx);
  await listen(server, host, listenPort, opts.listen);
  server.on('error', (e) => log(`api: server error: ${e.message}`));
  // Made once listening (its ping timer would outlive a failed listen); upgrades cannot come before.
  const streams = new StreamHub(port, { limits, token: opts.token, log, shed, hostAllowed: ctx.hostAllowed });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    ctx.guard.forget(req.socket); // a stream counts against the stream budgets from here on
    streams.upgrade(req, socket, head, pathOf(req));
  });
  const addr = server.address();
  const bound =
    typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host, port: listenPort };
  return {
    ...bound,
    drain: (timeout_ms = limits.drain_timeout_ms) => ctx.work.drain(timeout_ms),
    close: () => closeApi(ctx, server, streams),
  };
}

/**
 * A page in a browser on this host could reach a loopback API through DNS rebinding (evil.example
 * resolving to 127.0.0.1); such requests carry the attacker's name in Host, so a loopback-bound
 * API answers only requests addressed to a loopback name.
 */
function hostCheck(loopback: boolean): (req: IncomingMessage) => boolean {
  return (req) => !loopback || req.headers.host === undefined || isLoopback(hostOf(req.headers.host));
}

/**
 * A connection refused or dropped by the limits: counted in the metrics, summed up in the log at most
 * once per SHED_LOG_INTERVAL_MS.
 */
function shedReporter(port: AgentPort, log: (line: string) => void): (reason: ApiShedReason) => void {
  const shedCounts = new Map<ApiShedReason, number>();
  let shedLoggedAt = -Infinity;
  return (reason) => {
    port.metrics.apiConnectionShed(reason);
    shedCounts.set(reason, (shedCounts.get(reason) ?? 0) + 1);
    if (performance.now() - shedLoggedAt < SHED_LOG_INTERVAL_MS) return;
    shedLoggedAt = performance.now();
    log(
      `api: connection limits in action, so far: ${[...shedCounts].map(([r, n]) => `${r} ${n}`).join(', ')} ` +
        '(fgo_api_connections_shed_total)',
    );
  };
}

/** The HTTP server with the limits applied: every connection through the guard, every request routed. */
function createHttpServer(ctx: ApiContext): Server {
  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    ctx.guard.mark(req.socket, 'busy');
    res.once('close', () => ctx.guard.mark(req.socket, 'idle'));
    handleRequest(ctx, req, res).catch((e: unknown) => {
      const path = pathOf(req);
      ctx.log(`api: ${req.method ?? '?'} ${path} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (res.headersSent) res.destroy();
      else
        sendJson(ctx, res, routeOf(path)?.name ?? 'other', 500, { error: 'internal error (details in the agent log)' });
    });
  };
  const limits = ctx.limits;
  const server = createServer(
    {
      maxHeaderSize: limits.max_header_bytes,
      requestTimeout: limits.request_timeout_ms,
      headersTimeout: limits.headers_timeout_ms,
      keepAliveTimeout: limits.keep_alive_timeout_ms,
      connectionsCheckingInterval: limits.timeout_check_interval_ms,
    },
    dispatch,
  );
  // Node would answer `Expect: 100-continue` itself before we saw the headers; handleSchedule() decides instead.
  server.on('checkContinue', dispatch);
  server.on('connection', (socket: Socket) => ctx.guard.admit(socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(ctx, err, socket));
  return server;
}

/** A request Node's parser refused (too large, too slow, malformed), answered on the raw socket. */
function answerClientError(ctx: ApiContext, err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset peer cannot be answered, nor a connection already sending an answer (the error came from a
  // pipelined request).
  const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (err.code === 'ECONNRESET' || !socket.writable || answering) return void socket.destroy();
  const [code, text, error] = clientErrorAnswer(err.code, ctx.limits);
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nCache-Control: no-store\r\n` +
      `Content-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
  ctx.port.metrics.apiRequest('other', code);
}

/** Bind the address; a failure is a ListenError an operator can act on. */
function listen(server: Server, host: string, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(listenError(address, e)));
    server.listen({ host, port }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
}

/** Stop listening, close the streams, let written answers out (close_grace_ms), then cut every connection. */
async function closeApi(ctx: ApiContext, server: Server, streams: StreamHub): Promise<void> {
  ctx.work.draining = true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve())); // also closes idle keep-alives
  await streams.close(ctx.limits.close_grace_ms);
  for (const end = performance.now() + ctx.limits.close_grace_ms; ctx.guard.busy > 0 && performance.now() < end; )
    await new Promise((r) => setTimeout(r, 20));
  server.closeAllConnections();
  await closed;
}
