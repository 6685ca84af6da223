/**
 * The live API's limits, and the connection table that keeps one local user from starving others.
 *
 * The agent listens on loopback, where every local client — and every local attacker — has the
 * address 127.0.0.1, so a per-address limit alone protects nothing. What protects /healthz and
 * token holders is that a full table never refuses a newcomer while it holds a connection that is
 * not doing useful work: one still waiting for its headers, an idle keep-alive, or an anonymous
 * request whose client does not read its answer. The oldest of those is closed to make room.
 * Only authenticated requests in progress are never evicted. A slowloris connection is thus
 * closed either by the headers timeout or by the next legitimate client, whichever comes first.
 */
import type { Socket } from 'node:net';
import type { ApiShedReason } from './metrics.ts';

export interface ApiLimits {
  /** Largest request body (POST /v1/schedule); declared or streamed, larger is 413. */
  max_body_bytes: number;
  /** Request line plus headers; larger is 431. */
  max_header_bytes: number;
  /** Request target (path and query); longer is 414. */
  max_url_bytes: number;
  /** All headers must arrive within this after the connection opens or the previous request ends; else 408. */
  headers_timeout_ms: number;
  /** Headers and body together; else 408. */
  request_timeout_ms: number;
  /** An idle keep-alive connection is closed after this. */
  keep_alive_timeout_ms: number;
  /** How often Node checks the two timeouts above (its default, 30 s, would let a slow client stay 6× longer). */
  timeout_check_interval_ms: number;
  /** HTTP connections in total (WebSocket streams have their own budgets). */
  max_connections: number;
  /** HTTP connections from one client address. */
  max_connections_per_address: number;
  /** An anonymous request whose answer the client has not taken within this may be evicted. */
  busy_grace_ms: number;
  /** WebSocket streams without the bearer token, in total and per address; more are refused with 503. */
  max_streams_anonymous: number;
  max_streams_anonymous_per_address: number;
  /** WebSocket streams with the bearer token (Authorization header). */
  max_streams_authenticated: number;
  /** A stream client further behind than this is dropped (close 1013). */
  stream_max_buffered_bytes: number;
  /** Ping period; a client that has not answered the previous ping by the next one is dropped. */
  stream_ping_interval_ms: number;
  /** Largest frame a stream client may send (it is ignored anyway). */
  stream_max_message_bytes: number;
  /** On SIGTERM: how long in-flight schedule requests may take before the agent stops regardless. */
  drain_timeout_ms: number;
  /** On close: how long answers already written get to reach their clients before sockets are destroyed. */
  close_grace_ms: number;
  /** Retry-After of 503 answers (draining, stream budget full), seconds. */
  retry_after_s: number;
}

export const API_LIMITS: Readonly<ApiLimits> = Object.freeze({
  max_body_bytes: 64 * 1024,
  max_header_bytes: 8 * 1024,
  max_url_bytes: 2 * 1024,
  headers_timeout_ms: 5_000,
  request_timeout_ms: 10_000,
  keep_alive_timeout_ms: 5_000,
  timeout_check_interval_ms: 1_000,
  max_connections: 256,
  max_connections_per_address: 128,
  busy_grace_ms: 2_000,
  max_streams_anonymous: 8,
  max_streams_anonymous_per_address: 4,
  max_streams_authenticated: 32,
  stream_max_buffered_bytes: 1024 * 1024,
  stream_ping_interval_ms: 15_000,
  stream_max_message_bytes: 4 * 1024,
  drain_timeout_ms: 5_000,
  close_grace_ms: 1_000,
  retry_after_s: 5,
});

/** idle: no request yet, or between keep-alive requests; busy: an anonymous request; trusted: an authenticated one. */
export type ConnectionPhase = 'idle' | 'busy' | 'trusted';

interface Entry {
  address: string;
  phase: ConnectionPhase;
  /** performance.now() of the last phase change: the eviction order. */
  since_ms: number;
}

type GuardLimits = Pick<ApiLimits, 'max_connections' | 'max_connections_per_address' | 'busy_grace_ms'>;

export class ConnectionGuard {
  private readonly table = new Map<Socket, Entry>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: GuardLimits,
    private readonly shed: (reason: ApiShedReason) => void,
    private readonly now = () => performance.now(),
  ) {}

  get size(): number {
    return this.table.size;
  }

  /** Connections with a request in progress (anonymous or authenticated). */
  get busy(): number {
    let n = 0;
    for (const e of this.table.values()) if (e.phase !== 'idle') n++;
    return n;
  }

  /** A new connection: make room under both limits (per address first) or close it. False when closed. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const fits =
      ((this.perAddress.get(address) ?? 0) < this.limits.max_connections_per_address || this.evictOldest(address)) &&
      (this.table.size < this.limits.max_connections || this.evictOldest(undefined));
    if (!fits) {
      this.shed('refused');
      socket.destroy();
      return false;
    }
    this.table.set(socket, { address, phase: 'idle', since_ms: this.now() });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.forget(socket));
    return true;
  }

  /** Move a connection to `phase` (a socket already forgotten, e.g. closed meanwhile, is ignored). */
  mark(socket: Socket, phase: ConnectionPhase): void {
    const e = this.table.get(socket);
    if (!e) return;
    e.phase = phase;
    e.since_ms = this.now();
  }

  /** Stop counting a connection (closed, or upgraded to a stream with its own budget). */
  forget(socket: Socket): void {
    const e = this.table.get(socket);
    if (!e) return;
    this.table.delete(socket);
    const n = (this.perAddress.get(e.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(e.address, n);
    else this.perAddress.delete(e.address);
  }

  /**
   * Close the oldest connection doing no useful work (of `address`, or of anyone); false when there
   * is none. Idle connections go first, whatever their age: an anonymous request past its grace
   * (a /healthz on an overloaded host, say) is closed only when no idle connection is left.
   */
  private evictOldest(address: string | undefined): boolean {
    const now = this.now();
    let oldest: [Socket, Entry] | undefined;
    const before = (a: Entry, b: Entry) =>
      (a.phase === 'idle') !== (b.phase === 'idle') ? a.phase === 'idle' : a.since_ms < b.since_ms;
    for (const [s, e] of this.table) {
      if (address !== undefined && e.address !== address) continue;
      const evictable = e.phase === 'idle' || (e.phase === 'busy' && now - e.since_ms > this.limits.busy_grace_ms);
      if (evictable && (oldest === undefined || before(e, oldest[1]))) oldest = [s, e];
    }
    if (!oldest) return false;
    this.forget(oldest[0]);
    oldest[0].destroy();
    this.shed('evicted');
    return true;
  }
}
