/**
 * Calls between pool workers (the fragment graph, live): a worker holding a request may call a
 * profile its own profile declares in `calls`, by writing a `call` line on its stdout; the agent
 * schedules the call as a request of that profile — placed by the engine near its caller, failed
 * fast if the profile is down — and writes the `answer` line back on the caller's stdin.
 *
 * The endpoint is the worker's own pipe, so no token exists to leak: a worker can reach exactly
 * the profiles its config names, only while it serves a request, at most MAX_CALLS per request,
 * and nothing of the API. A sync call tells the engine the caller now waits (its CPU is free for
 * its callees); an answer that says a dependency is down is remembered, so the caller's failure is
 * reported as the dependency's and not held against the caller's health.
 */
import type { Config } from '../engine/config.ts';
import type { Request } from '../engine/types.ts';
import { encodePayload, type WorkerCall } from './worker-protocol.ts';
import type { Worker } from './workers.ts';

/** Calls one request may make. */
export const MAX_CALLS = 64;

export type CallAnswer = { status: number; body: unknown };

interface Serving {
  request: Request;
  calls: number;
  /** A callee whose answer said it (or its own dependency) was down: the request's failure is its. */
  dependency?: string;
}

export class PoolCalls {
  private readonly serving = new Map<string, Serving>();

  constructor(
    private readonly engine: Config,
    /** Schedule a request for a caller and call `reply` once with its answer (as the API would give it). */
    private readonly submit: (request: Request, payload: unknown, reply: (a: CallAnswer) => void) => void,
    /** The fragment's request now waits on a sync call. */
    private readonly calling: (fragment: string) => void,
  ) {}

  /** `fragment` was handed `request`. */
  began(fragment: string, request: Request): void {
    this.serving.set(fragment, { request, calls: 0 });
  }

  /** `fragment`'s request is over; the dependency to blame for its failure, if a call said one was down. */
  ended(fragment: string): string | undefined {
    const s = this.serving.get(fragment);
    this.serving.delete(fragment);
    return s?.dependency;
  }

  /** A worker's `call` line. */
  call(w: Worker, c: WorkerCall): void {
    const s = this.serving.get(w.fragment);
    if (!s) return w.answer(c.id, { ok: false, error: 'a call is made while serving a request' });
    const declared = this.engine.profiles[w.profile]?.calls ?? [];
    const edge = declared.find((e) => e.profile === c.profile);
    if (!edge)
      return w.answer(c.id, {
        ok: false,
        error: `profile ${w.profile} does not call ${c.profile} (its calls: ${declared.map((e) => e.profile).join(', ') || 'none'})`,
      });
    if (s.calls >= MAX_CALLS) return w.answer(c.id, { ok: false, error: `at most ${MAX_CALLS} calls per request` });
    const enc = encodePayload(c.payload);
    if (!enc.ok) return w.answer(c.id, { ok: false, error: enc.error });
    s.calls++;
    const callee = this.engine.profiles[c.profile] ?? this.engine.default_profile;
    const request: Request = {
      id: `${s.request.id}.${s.calls}`,
      profile: c.profile,
      cpus: callee.cpus,
      memory_kb: callee.memory_kb,
      priority: s.request.priority,
      caller: w.fragment,
    };
    if (edge.mode === 'sync') this.calling(w.fragment);
    this.submit(request, c.payload, (a) => {
      if (this.serving.get(w.fragment) !== s) return; // the caller's request is over: nobody waits for this
      const body = (a.body ?? {}) as {
        ok?: boolean;
        result?: unknown;
        error?: string;
        reason?: string;
        action?: string;
      };
      if (a.status === 200 && body.ok === true) return w.answer(c.id, { ok: true, result: body.result });
      if (body.action === 'shed' && / is down \(outage /.test(body.reason ?? '')) s.dependency ??= c.profile;
      w.answer(c.id, { ok: false, error: body.error ?? body.reason ?? `status ${a.status}` });
    });
  }
}
