/**
 * POST /v1/schedule: refused while draining, then the bearer token, then the body (media type, size,
 * JSON, the schema), and only then relayed to the agent, whose answer is passed back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatIssues } from '../engine/schemas.ts';
import { parseJsonBody, readBody } from './api-body.ts';
import type { ApiContext } from './api-context.ts';
import { refuse, sendJson } from './api-responses.ts';
import { scheduleBodySchema } from './schedule-body.ts';
import { checkBearer } from './token.ts';

export async function handleSchedule(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (ctx.work.draining)
    return refuse(
      ctx,
      req,
      res,
      'schedule',
      503,
      { error: 'agent is stopping: not taking new requests' },
      { 'Retry-After': String(ctx.limits.retry_after_s), Connection: 'close' },
    );
  if (!checkBearer(req.headers.authorization, ctx.token)) {
    return refuse(
      ctx,
      req,
      res,
      'schedule',
      401,
      { error: 'missing or invalid bearer token' },
      { 'WWW-Authenticate': 'Bearer realm="fgo"' },
    );
  }
  ctx.guard.mark(req.socket, 'trusted');
  await ctx.work.run(() => authorizedSchedule(ctx, req, res));
}

async function authorizedSchedule(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const max_body_bytes = ctx.limits.max_body_bytes;
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json')
    return refuse(ctx, req, res, 'schedule', 415, { error: 'Content-Type must be application/json' });
  const tooLarge = { error: `request body larger than ${max_body_bytes} bytes` };
  if (Number(req.headers['content-length'] ?? 0) > max_body_bytes)
    return refuse(ctx, req, res, 'schedule', 413, tooLarge);

  // Only now, with the headers accepted, invite a client that sent `Expect: 100-continue` to send the body.
  if (/100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
  const raw = await readBody(req, max_body_bytes);
  if (raw === 'too_large') return refuse(ctx, req, res, 'schedule', 413, tooLarge);
  if (raw === 'aborted') return;
  const body = parseJsonBody(raw);
  if ('error' in body) return sendJson(ctx, res, 'schedule', 400, { error: body.error });
  const parsed = scheduleBodySchema.safeParse(body.value);
  if (!parsed.success)
    return sendJson(ctx, res, 'schedule', 400, {
      error: 'invalid schedule request',
      problems: formatIssues(parsed.error.issues),
    });
  const answer = await ctx.port.schedule(parsed.data);
  if (!Number.isInteger(answer.status) || answer.status < 200 || answer.status > 599)
    throw new Error(`agent answered with status ${answer.status}`);
  // A 503 that says when to come back (pool mode's open circuit breaker, a stopping agent) gets
  // Retry-After, unless the agent set its headers itself (a degraded journal).
  const retry = (answer.body as { retry_after_s?: unknown } | null)?.retry_after_s;
  const retryAfter: Record<string, string> =
    answer.status === 503 && Number.isInteger(retry) ? { 'Retry-After': String(retry) } : {};
  sendJson(ctx, res, 'schedule', answer.status, answer.body, answer.headers ?? retryAfter);
}
