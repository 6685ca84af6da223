/**
 * Admission (the design's congestion manager): overload detection and probabilistic shedding,
 * pressure deferral with a bounded, jittered retry delay, per-profile traffic shaping, the
 * priority queue that holds deferred requests until they are due, the queue of requests waiting
 * for room, and when each deferred request was first held back.
 */
import type { Config } from './config.ts';
import { PRIORITY, type Request, type Resource } from './types.ts';

type AdmissionConfig = Config['admission'];
type ThresholdSet = Config['pressure']['thresholds'];
export type PressureValues = Readonly<Record<Resource, number>>;

export const isHighPriority = (r: Request) => r.priority >= PRIORITY.high;

/**
 * Deferral table. Normal requests defer when cpu ≥ high, memory ≥ high, or io ≥ high for
 * I/O-intensive requests. The original design meant high-priority requests to pass under pressure
 * but returned before its check could matter; here they pass until the same resource is critical.
 * Returns the resource that forced deferral, or undefined.
 */
export function deferFor(p: PressureValues, req: Request, t: ThresholdSet): Resource | undefined {
  const bar = isHighPriority(req) ? 'critical' : 'high';
  if (p.cpu >= t.cpu[bar]) return 'cpu';
  if (p.memory >= t.memory[bar]) return 'memory';
  if (req.io_intensive && p.io >= t.io[bar]) return 'io';
  return undefined;
}

/**
 * Retry delay: base × (1 + 9p) for the worst relevant pressure p, so it spans base (no pressure)
 * to 10 × base (full stall); capped at retry_max_ms; then multiplied by 1 ± jitter so deferred
 * requests do not all return in the same instant. `u` is a uniform draw from the `retry` stream.
 */
export function retryDelay_ms(p: number, c: AdmissionConfig, u: number): number {
  const raw = Math.min(c.retry_max_ms, c.retry_base_ms * (1 + 9 * p));
  const jittered = Math.round(raw * (1 + c.retry_jitter * (2 * u - 1)));
  return Math.max(1, Math.min(c.retry_max_ms, jittered));
}

/** Mean of the three pressures: the design's load factor. */
export const loadFactor = (p: PressureValues) => (p.cpu + p.memory + p.io) / 3;

/** Shedding probability rises linearly from 0 at the overload point to 1 at full stall. */
export function sheddingProbability(load: number, c: AdmissionConfig): number {
  if (load < c.overload_load) return 0;
  if (c.overload_load >= 1) return 1;
  return Math.min(1, (load - c.overload_load) / (1 - c.overload_load));
}

/** Never sheds high priority; lower priorities get `priority_bonus` per level off the probability. */
export function shouldShed(req: Request, load: number, c: AdmissionConfig, u: number): boolean {
  if (isHighPriority(req)) return false;
  return u < sheddingProbability(load, c) - req.priority * c.priority_bonus;
}

/** Classic token bucket; a request that finds it empty is admitted later rather than refused. */
export class TokenBucket {
  private tokens: number;
  private last_ms: number | undefined;

  constructor(private readonly rate_per_s: number, private readonly burst: number, private readonly max_delay_ms: number) {
    this.tokens = burst;
  }

  /** Delay in ms before this request may start, or undefined when it would exceed max_delay_ms. */
  take(t_ms: number): number | undefined {
    if (this.last_ms !== undefined && t_ms > this.last_ms) {
      this.tokens = Math.min(this.burst, this.tokens + ((t_ms - this.last_ms) / 1000) * this.rate_per_s);
    }
    this.last_ms = Math.max(t_ms, this.last_ms ?? t_ms);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    const delay_ms = Math.ceil(((1 - this.tokens) / this.rate_per_s) * 1000);
    if (delay_ms > this.max_delay_ms) return undefined;
    this.tokens -= 1; // borrow the future token this request will use
    return delay_ms;
  }
}

export interface Deferred {
  request: Request;
  due_ms: number;
  seq: number;
}

/**
 * Deferred requests, released in priority order once due. A binary min-heap on (due, seq) finds
 * what is due; the released batch is then ordered by priority, so a high-priority request that
 * falls due together with low-priority ones goes first.
 */
export class DeferredQueue {
  private heap: Deferred[] = [];
  private seq = 0;
  private readonly ids = new Set<string>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.heap.length;
  }

  get full(): boolean {
    return this.heap.length >= this.limit;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /**
   * Queue a request. When full, the youngest lowest-priority non-high entry is evicted to make
   * room and returned (the caller sheds it); with none evictable a high-priority request still
   * enters, because high priority is never shed.
   */
  push(request: Request, due_ms: number): { evicted?: Request; queued: boolean } {
    let evicted: Request | undefined;
    // A re-push replaces the queued entry; drop it first so it neither needs room nor becomes the victim.
    if (this.ids.has(request.id)) this.remove(request.id);
    if (this.full) {
      let victim = -1;
      for (let i = 0; i < this.heap.length; i++) {
        const e = this.heap[i] as Deferred;
        if (e.request.priority >= PRIORITY.high || e.request.priority >= request.priority) continue;
        const v = victim < 0 ? undefined : (this.heap[victim] as Deferred);
        if (!v || e.request.priority < v.request.priority || (e.request.priority === v.request.priority && e.seq > v.seq)) victim = i;
      }
      if (victim < 0 && !isHighPriority(request)) return { queued: false };
      if (victim >= 0) evicted = this.removeAt(victim).request;
    }
    const e: Deferred = { request, due_ms, seq: this.seq++ };
    this.heap.push(e);
    this.ids.add(request.id);
    this.up(this.heap.length - 1);
    return evicted ? { evicted, queued: true } : { queued: true };
  }

  /** Everything due at t_ms, highest priority first, then earliest due, then first queued. */
  popDue(t_ms: number): Deferred[] {
    const out: Deferred[] = [];
    while (this.heap.length && (this.heap[0] as Deferred).due_ms <= t_ms) out.push(this.removeAt(0));
    return out.sort((a, b) => b.request.priority - a.request.priority || a.due_ms - b.due_ms || a.seq - b.seq);
  }

  remove(id: string): boolean {
    const i = this.heap.findIndex((e) => e.request.id === id);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  private less(a: Deferred, b: Deferred): boolean {
    return a.due_ms < b.due_ms || (a.due_ms === b.due_ms && a.seq < b.seq);
  }

  private removeAt(i: number): Deferred {
    const e = this.heap[i] as Deferred;
    const last = this.heap.pop() as Deferred;
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.down(i);
      this.up(i);
    }
    this.ids.delete(e.request.id);
    return e;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Deferred, h[p] as Deferred)) break;
      [h[i], h[p]] = [h[p] as Deferred, h[i] as Deferred];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as Deferred, h[m] as Deferred)) m = l;
      if (r < h.length && this.less(h[r] as Deferred, h[m] as Deferred)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Deferred, h[i] as Deferred];
      i = m;
    }
  }
}

/**
 * Requests waiting for room — nothing fits, or their pool is full — first come, first served, let
 * out one at a time as room frees instead of polling: a few thousand requests re-deciding every
 * quarter second keep a full host busy deciding. An array with a moving head makes both ends O(1);
 * the consumed prefix is dropped once it is most of the array.
 */
export class RoomQueue {
  private waiting: Request[] = [];
  private head = 0;

  get size(): number {
    return this.waiting.length - this.head;
  }

  push(request: Request): void {
    this.waiting.push(request);
  }

  /** The longest-waiting request, taken off the queue; undefined when none waits. */
  next(): Request | undefined {
    if (this.head >= this.waiting.length) return undefined;
    const request = this.waiting[this.head++] as Request;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return request;
  }
}

/** When each deferred request was first held back, so max_defer_ms can bound its deferral. */
export class DeferralTimes {
  private readonly since = new Map<string, number>();

  /** The request is held back at t_ms; only its first deferral counts. */
  hold(id: string, t_ms: number): void {
    if (!this.since.has(id)) this.since.set(id, t_ms);
  }

  /** How long the request has been held back at t_ms (0 if it never was). */
  waited_ms(id: string, t_ms: number): number {
    return t_ms - (this.since.get(id) ?? t_ms);
  }

  /** The request is decided otherwise (placed, shed, rejected, evicted): forget it. */
  forget(id: string): void {
    this.since.delete(id);
  }
}
