/**
 * The optional read-only metrics listener (`metrics_listen` in the live config): GET /metrics and
 * nothing else, for a Prometheus that cannot reach the API on the loopback — in the DaemonSet the
 * API stays on the pod's own 127.0.0.1 while this listener takes the pod IP (deploy/README.md).
 *
 * It shares no route with the API: no schedule, no state, no stream, no dashboard, so opening it
 * to a network exposes the figures of docs/prometheus.md and nothing a client could act on. It
 * reads no request body, answers every other path 404 and every other method 405, and keeps the
 * API's header/request timeouts; a handful of connections is plenty for scrapers, so more are refused.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenError, parseListen } from './listen.ts';
import { API_LIMITS } from './limits.ts';
import type { AgentMetrics } from './metrics.ts';

/** Concurrent connections: a few Prometheus replicas and a curl, not a crowd. */
const MAX_CONNECTIONS = 16;
const PLAIN = 'text/plain; charset=utf-8';

export interface MetricsListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listen on `listen` ("0.0.0.0:9466", "[::]:9466", port 0 = any free port). `metrics` is a getter
 * because the CLI binds before the agent (and its registry) exists, as it does for the API.
 */
export async function startMetricsListener(metrics: () => AgentMetrics, listen: string): Promise<MetricsListener> {
  const { host, port } = parseListen(listen);
  const L = API_LIMITS;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A request body is never read: close the connection after answering rather than drain it.
    const close: Record<string, string> =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
        ? { Connection: 'close' }
        : {};
    const answer = (code: number, type: string, text: string, extra: Record<string, string> = {}) => {
      res.writeHead(code, {
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'Content-Type': type,
        'Content-Length': String(Buffer.byteLength(text)),
        ...close,
        ...extra,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    const path = (req.url ?? '').split('?')[0];
    const m = metrics();
    if (path !== '/metrics') {
      m.apiRequest('other', 404);
      return answer(404, PLAIN, 'this listener serves GET /metrics only\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      m.apiRequest('metrics', 405);
      return answer(405, PLAIN, 'GET /metrics only\n', { Allow: 'GET, HEAD' });
    }
    answer(200, m.contentType, await m.text());
    m.apiRequest('metrics', 200);
  };
  const server = createServer(
    {
      maxHeaderSize: L.max_header_bytes,
      requestTimeout: L.request_timeout_ms,
      headersTimeout: L.headers_timeout_ms,
      keepAliveTimeout: L.keep_alive_timeout_ms,
      connectionsCheckingInterval: L.timeout_check_interval_ms,
    },
    (req, res) => {
      // Nothing in handle() is expected to throw; should the registry fail, cut the connection.
      handle(req, res).catch(() => res.destroy());
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(listenError(listen, e)));
    server.listen({ host, port }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host, port };
  return {
    ...bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
