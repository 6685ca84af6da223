/**
 * Routing an HTTP request of the API: the URL and Host checks, the fixed routes and their methods,
 * the dashboard's files, and the GET routes' answers (schedule is in serve/api-schedule.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasBody } from './api-body.ts';
import type { ApiContext } from './api-context.ts';
import { COMMON_HEADERS, refuse, sendJson, sendPage } from './api-responses.ts';
import { handleSchedule } from './api-schedule.ts';
import { dashboardAsset, dashboardHtml } from './dashboard.ts';

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

export const routeOf = (path: string) => (Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined);
export const pathOf = (req: IncomingMessage) => (req.url ?? '').split('?')[0] ?? '';

export async function handleRequest(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const max_url_bytes = ctx.limits.max_url_bytes;
  if (Buffer.byteLength(req.url ?? '') > max_url_bytes)
    return refuse(ctx, req, res, 'other', 414, { error: `request target longer than ${max_url_bytes} bytes` });
  const path = pathOf(req);
  const route = routeOf(path);
  if (!ctx.hostAllowed(req))
    return refuse(ctx, req, res, route?.name ?? 'other', 421, { error: 'Host is not a loopback name' });
  if (path === '/favicon.ico') {
    // Browsers ask for it with every dashboard load; an empty answer keeps their console clean.
    res.writeHead(204, COMMON_HEADERS);
    return void res.end();
  }
  const asset = req.method === 'GET' && path.startsWith('/assets/') ? dashboardAsset(path) : undefined;
  if (asset !== undefined) return sendPage(ctx, res, 'text/javascript; charset=utf-8', asset);
  if (!route) return refuse(ctx, req, res, 'other', 404, { error: `no route ${req.method ?? ''} ${path}` });
  if (req.method !== route.method)
    return refuse(
      ctx,
      req,
      res,
      route.name,
      405,
      { error: `${path} allows ${route.method} only` },
      { Allow: route.method },
    );
  if (route.name === 'schedule') return handleSchedule(ctx, req, res);
  // Only schedule takes a body; one sent elsewhere is not read (refuse closes the connection after answering).
  if (hasBody(req))
    return refuse(ctx, req, res, route.name, 400, { error: `${req.method ?? ''} ${path} takes no request body` });
  return serveGet(ctx, res, route.name);
}

async function serveGet(ctx: ApiContext, res: ServerResponse, route: string): Promise<void> {
  const port = ctx.port;
  switch (route) {
    case 'state':
      return sendJson(ctx, res, 'state', 200, port.state());
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
      return sendPage(ctx, res, 'text/html; charset=utf-8', dashboardHtml(ctx.title));
    case 'healthz': {
      const draining = ctx.work.draining;
      const [code, text] = draining ? [503, 'draining'] : [200, 'ok'];
      res.writeHead(code, {
        ...COMMON_HEADERS,
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': String(text.length),
        ...(draining ? { 'Retry-After': String(ctx.limits.retry_after_s) } : {}),
      });
      res.end(text);
      return port.metrics.apiRequest('healthz', code);
    }
    default: // /v1/stream without an Upgrade header
      return sendJson(
        ctx,
        res,
        'stream',
        426,
        { error: 'GET /v1/stream is a WebSocket endpoint' },
        { Upgrade: 'websocket' },
      );
  }
}
