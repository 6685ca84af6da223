/**
 * How the API answers: JSON and dashboard pages with the common headers, each answer counted in the
 * `fgo_api_requests_total` metric under its fixed route name, and refusals that drop the connection
 * without reading a body the API will not use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasBody } from './api-body.ts';
import type { ApiContext } from './api-context.ts';
import { DASHBOARD_CSP } from './dashboard.ts';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
/** Grace before destroying a connection whose body we refused, so the client can read the response first. */
export const REJECT_LINGER_MS = 1000;

export function sendJson(
  ctx: ApiContext,
  res: ServerResponse,
  route: string,
  code: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) ?? 'null';
  res.writeHead(code, {
    ...COMMON_HEADERS,
    'Content-Type': JSON_TYPE,
    'Content-Length': String(Buffer.byteLength(text)),
    ...extra,
  });
  res.end(text);
  ctx.port.metrics.apiRequest(route, code);
}

/**
 * Answer a request whose body we will not read, then drop the connection: stop reading, let the
 * response and our FIN go out, and destroy the socket after a short grace. Destroying at once with
 * unread input makes the kernel send RST, which can discard the response before the client reads it;
 * reading on (Node's default) would let a client stream an endless body at us.
 */
export function refuse(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: string,
  code: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  if (!hasBody(req) || req.complete) return sendJson(ctx, res, route, code, body, extra);
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
  sendJson(ctx, res, route, code, body, { ...extra, Connection: 'close' });
}

/** The dashboard page or one of its scripts, under the dashboard's Content-Security-Policy. */
export function sendPage(ctx: ApiContext, res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'Content-Type': type,
    'Content-Length': String(Buffer.byteLength(body)),
    'Content-Security-Policy': DASHBOARD_CSP,
  });
  res.end(body);
  ctx.port.metrics.apiRequest('dashboard', 200);
}
