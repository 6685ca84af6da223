/**
 * Requests held back, and every decision's last step. A request deferred for pressure or shaping
 * waits in the deferred queue until due; one waiting for room waits in the room queue until room
 * frees; one not worth waiting for is shed. `finish` assembles each decision and forgets a request
 * once it is decided otherwise than deferred, which is what bounds its wait by its SLO.
 */
import { CompletionRate, DeferralTimes, DeferredQueue, retryDelay_ms, RoomQueue } from './admission.ts';
import { assembleDecision, type DecisionBase, type DecisionDraft } from './decision.ts';
import type { PoolLifecycle } from './lifecycle.ts';
import { roundTo } from './round.ts';
import type { Command, Decision, NodeScore, Request } from './types.ts';

export class Holdback {
  readonly queue: DeferredQueue;
  readonly room = new RoomQueue();
  readonly deferredSince = new DeferralTimes();
  readonly completions = new CompletionRate();
  /** Requests let out of the room queue and not yet decided again. */
  private readonly letOut = new Set<string>();

  constructor(private readonly life: PoolLifecycle) {
    this.queue = new DeferredQueue(life.cfg.admission.queue_limit);
  }

  /** Requests waiting, in either queue. */
  get size(): number {
    return this.queue.size + this.room.size;
  }

  /**
   * Hold a request back. For pressure or shaping it returns after a timed delay; when it waits for
   * room (`forRoom`: nothing fits, or its pool is full) it joins the room queue, highest priority
   * first, and is let out as room frees — one per completion, plus one per tick. A request below
   * high priority expected to wait for room twice what its SLO leaves is shed at once, with the
   * expected wait as its retry-after: early and cheap, instead of waiting only to miss.
   */
  defer(
    base: DecisionBase,
    req: Request,
    reason: string,
    p: number | undefined,
    scores: NodeScore[],
    forRoom = false,
    budget_ms = Infinity,
  ): Decision {
    // Its wait counts from its first scheduling (now, unless it was deferred before); finish()
    // forgets it again unless it ends deferred.
    this.deferredSince.seen(req.id, base.t_ms);
    return forRoom
      ? this.waitForRoom(base, req, reason, scores, budget_ms)
      : this.deferUntilDue(base, req, reason, p, scores, budget_ms);
  }

  private waitForRoom(
    base: DecisionBase,
    req: Request,
    reason: string,
    scores: NodeScore[],
    budget_ms: number,
  ): Decision {
    const adm = this.life.cfg.admission;
    if (this.room.size >= adm.queue_limit && req.priority < 2)
      return this.shed(base, `room queue full (${adm.queue_limit}): ${reason}`, 0, scores);
    const wait_ms = this.roomWait_ms(req.priority, base.t_ms);
    // Twice the budget: the estimate is of an average, and shedding a request that would have
    // made it is a certain miss where waiting was only a likely one.
    if (req.priority < 2 && wait_ms > 2 * budget_ms) {
      const left_ms = Math.max(0, Math.round(budget_ms));
      return this.finish(base, {
        action: 'shed',
        reason: `overloaded: ${reason}; ~${Math.round(wait_ms)} ms until room, ${left_ms} ms left of its SLO`,
        retry_after_ms: Math.max(1, Math.round(wait_ms)),
        confidence: 1,
        scores,
      });
    }
    // One let out to try again that must wait once more keeps its turn at the head of the queue.
    if (this.letOut.delete(req.id)) this.room.pushFront(req);
    else this.room.push(req);
    return this.finish(base, {
      action: 'defer',
      reason,
      retry_after_ms: adm.insufficient_retry_ms,
      confidence: 1,
      scores,
    });
  }

  /** Back no later than the SLO budget runs out: the request is then admitted (or shed if past it). */
  private deferUntilDue(
    base: DecisionBase,
    req: Request,
    reason: string,
    p: number | undefined,
    scores: NodeScore[],
    budget_ms: number,
  ): Decision {
    const adm = this.life.cfg.admission;
    const retry = Math.max(
      1,
      Math.min(
        budget_ms,
        p === undefined ? adm.insufficient_retry_ms : retryDelay_ms(p, adm, this.life.streams.next('retry')),
      ),
    );
    const q = this.queue.push(req, base.t_ms + retry);
    if (!q.queued) return this.shed(base, `deferred queue full (${this.queue.limit}): ${reason}`, p ?? 0, scores);
    if (q.evicted) this.deferredSince.forget(q.evicted.id);
    const commands: Command[] = q.evicted
      ? [{ type: 'shed', request_id: q.evicted.id, reason: `evicted from the full deferred queue by ${req.id}` }]
      : [];
    return this.finish(base, {
      action: 'defer',
      reason,
      retry_after_ms: retry,
      confidence: roundTo(1 - (p ?? 0), 4),
      scores,
      commands,
    });
  }

  shed(base: DecisionBase, reason: string, p: number, scores: NodeScore[]): Decision {
    const retry = retryDelay_ms(p, this.life.cfg.admission, this.life.streams.next('retry'));
    return this.finish(base, {
      action: 'shed',
      reason,
      retry_after_ms: retry,
      confidence: roundTo(1 - p, 4),
      scores,
    });
  }

  /**
   * How long a request of this priority joining the room queue now would wait: the requests let out
   * before it, at the rate room frees — the faster of what completions did over the last 10 s and
   * what the requests running now will do (each pool's active requests ÷ its measured service time,
   * Little's law), since at the start of a burst the first lags. Only measurements count: unknown
   * (0, so nobody is shed on a guess) until something has completed.
   */
  private roomWait_ms(priority: number, t_ms: number): number {
    let running_per_s = 0;
    for (const pool of this.life.pools.pools.values())
      if (pool.count.active && pool.service_ms !== undefined)
        running_per_s += (pool.count.active * 1000) / pool.service_ms;
    const rate = Math.max(this.completions.perSecond(t_ms), running_per_s);
    return rate > 0 ? ((this.room.aheadOf(priority) + 1) / rate) * 1000 : 0;
  }

  /** Requests whose deferral is due at t_ms, each handed back for a retry. */
  releaseDue(t_ms: number): Command[] {
    const out: Command[] = [];
    for (const d of this.queue.popDue(t_ms))
      out.push({ type: 'retry', request: d.request, reason: `deferral due at ${d.due_ms} ms` });
    return out;
  }

  /** Let the longest-waiting request for room try again. */
  releaseRoom(reason: string): Command[] {
    const request = this.room.next();
    if (!request) return [];
    this.letOut.add(request.id);
    return [{ type: 'retry', request, reason }];
  }

  /** Assemble the decision; a request decided otherwise than deferred is forgotten here. */
  finish(base: DecisionBase, d: DecisionDraft): Decision {
    if (d.action !== 'defer') {
      this.deferredSince.forget(base.request_id);
      this.letOut.delete(base.request_id);
    }
    return assembleDecision(base, d);
  }
}
