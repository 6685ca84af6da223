/**
 * WebSocket /v1/stream: decisions, samples, commands and events as they happen, after one
 * `history` message with the recent past when the port keeps one (serve/stream-history.ts).
 *
 * A stream holds a socket for as long as the client likes, so streams have budgets of their own,
 * apart from the HTTP connections: a few anonymous ones (the dashboard page cannot send a token),
 * more for clients presenting the bearer token. A full budget answers 503 with Retry-After rather
 * than evicting, so a local user holding every anonymous slot cannot kick a token holder off, and
 * /healthz and /v1/schedule never depend on stream slots. A client that stops reading (send buffer
 * over the limit) or stops answering pings is dropped, so a slot is held only by a live reader.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { AgentPort } from './agent-port.ts';
import type { StreamMessage } from './stream-message.ts';
import type { ApiLimits } from './limits.ts';
import type { ApiShedReason } from './metrics.ts';
import { checkBearer } from './token.ts';

interface StreamOptions {
  limits: ApiLimits;
  token: string;
  log: (line: string) => void;
  /** A stream refused or dropped to protect the others (counted and logged by the API). */
  shed: (reason: ApiShedReason) => void;
  /** The Host check of the HTTP routes (DNS rebinding). */
  hostAllowed: (req: IncomingMessage) => boolean;
}

interface Client {
  ws: WebSocket;
  /** undefined for a token holder. */
  address: string | undefined;
  /** Answered the last ping. */
  alive: boolean;
  unsubscribe: () => void;
}

export class StreamHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly anonymousPerAddress = new Map<string, number>();
  private anonymous = 0;
  private authenticated = 0;
  private closing = false;
  private readonly pinger: NodeJS.Timeout;
  /** One JSON.stringify per message, not per client. */
  private readonly encoded = new WeakMap<StreamMessage, string>();

  constructor(
    private readonly port: AgentPort,
    private readonly opts: StreamOptions,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.limits.stream_max_message_bytes,
      perMessageDeflate: false,
    });
    this.pinger = setInterval(() => this.ping(), opts.limits.stream_ping_interval_ms);
    this.pinger.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** An HTTP upgrade request; `path` has no query. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void {
    // Node removes its own error handler from upgraded sockets; a reset here must not crash the agent.
    socket.on('error', () => {});
    const deny = (code: number, text: string, error: string, extra = '') => {
      const body = JSON.stringify({ error });
      socket.once('finish', () => socket.destroy());
      socket.end(
        `HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nCache-Control: no-store\r\nContent-Type: application/json; charset=utf-8\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      this.port.metrics.apiRequest(path === '/v1/stream' ? 'stream' : 'other', code);
    };
    if (path !== '/v1/stream') return deny(404, 'Not Found', `no WebSocket endpoint ${path}`);
    if (!this.opts.hostAllowed(req)) return deny(421, 'Misdirected Request', 'Host is not a loopback name');
    // Browsers always send Origin on WebSocket handshakes and, unlike fetch, do not apply CORS to
    // them, so any web page could read the stream. Only the agent's own pages (same origin as the
    // Host the request came to, itself checked above) and tools that send no Origin get it.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`)
      return deny(403, 'Forbidden', 'foreign Origin');
    const withToken = req.headers.authorization !== undefined;
    if (withToken && !checkBearer(req.headers.authorization, this.opts.token))
      return deny(401, 'Unauthorized', 'invalid bearer token', 'WWW-Authenticate: Bearer realm="fgo"\r\n');
    if (this.closing)
      return deny(
        503,
        'Service Unavailable',
        'agent is stopping',
        `Retry-After: ${this.opts.limits.retry_after_s}\r\n`,
      );
    const address = withToken ? undefined : (req.socket.remoteAddress ?? 'unknown');
    const full = this.budgetFull(address);
    if (full !== undefined) {
      this.opts.shed('stream_full');
      return deny(503, 'Service Unavailable', full, `Retry-After: ${this.opts.limits.retry_after_s}\r\n`);
    }
    // The slot is taken once the handshake succeeded: ws answers a malformed one itself (400), without calling back.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, address));
  }

  /** Close every stream with 1001 (going away); those not gone after `grace_ms` are cut. */
  async close(grace_ms: number): Promise<void> {
    clearInterval(this.pinger);
    this.closing = true;
    const all = [...this.clients];
    for (const c of all) c.ws.close(1001, 'agent stopping');
    const closed = Promise.all(
      all.map((c) => (c.ws.readyState === WebSocket.CLOSED ? undefined : new Promise((r) => c.ws.once('close', r)))),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, grace_ms)))]);
    clearTimeout(timer);
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  /** Why a stream of this client cannot be opened now, or undefined. */
  private budgetFull(address: string | undefined): string | undefined {
    const l = this.opts.limits;
    if (address === undefined)
      return this.authenticated >= l.max_streams_authenticated
        ? `all ${l.max_streams_authenticated} authenticated streams are in use`
        : undefined;
    if (this.anonymous >= l.max_streams_anonymous)
      return `all ${l.max_streams_anonymous} streams without a token are in use; send Authorization: Bearer <token> for a reserved one`;
    if ((this.anonymousPerAddress.get(address) ?? 0) >= l.max_streams_anonymous_per_address) {
      return `${l.max_streams_anonymous_per_address} streams without a token are open from ${address}; send Authorization: Bearer <token> for a reserved one`;
    }
    return undefined;
  }

  private take(address: string | undefined): void {
    if (address === undefined) this.authenticated++;
    else {
      this.anonymous++;
      this.anonymousPerAddress.set(address, (this.anonymousPerAddress.get(address) ?? 0) + 1);
    }
  }

  private give(address: string | undefined): void {
    if (address === undefined) this.authenticated--;
    else {
      this.anonymous--;
      const n = (this.anonymousPerAddress.get(address) ?? 1) - 1;
      if (n > 0) this.anonymousPerAddress.set(address, n);
      else this.anonymousPerAddress.delete(address);
    }
  }

  private serve(ws: WebSocket, address: string | undefined): void {
    this.port.metrics.apiRequest('stream', 101);
    this.take(address);
    const client: Client = { ws, address, alive: true, unsubscribe: () => {} };
    this.clients.add(client);
    let closed = false;
    ws.on('close', () => {
      closed = true;
      client.unsubscribe();
      this.clients.delete(client);
      this.give(address);
    });
    // The history and the subscription in one synchronous step: no message falls between them, none comes twice.
    const history = this.port.history?.();
    if (history) ws.send(JSON.stringify(history));
    const unsubscribe = this.port.subscribe((m) => this.send(client, m));
    client.unsubscribe = unsubscribe;
    if (closed) unsubscribe(); // closed while subscribe() was still running
    ws.on('pong', () => (client.alive = true));
    ws.on('message', () => {}); // incoming messages are ignored; maxPayload bounds them
    ws.on('error', (e) => this.opts.log(`api: stream client error: ${e.message}`));
  }

  private send(c: Client, m: StreamMessage): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount > this.opts.limits.stream_max_buffered_bytes) {
      this.opts.log(`api: stream client too slow (${c.ws.bufferedAmount} bytes queued), dropped`);
      this.opts.shed('stream_slow');
      c.unsubscribe();
      // Queued behind its backlog; ws cuts the socket if the close handshake stalls. Its slot is held until then.
      c.ws.close(1013, 'too slow, reconnect');
      return;
    }
    let s = this.encoded.get(m);
    if (s === undefined) this.encoded.set(m, (s = JSON.stringify(m)));
    c.ws.send(s);
  }

  /** Drop clients that did not answer the previous ping; ping the rest. */
  private ping(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.opts.shed('stream_unresponsive');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}
