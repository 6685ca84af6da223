/**
 * Admission (the design's congestion manager): pressure deferral — only for the pressure waiting
 * would relieve — with a bounded, jittered retry delay, per-profile traffic shaping, the priority
 * queue that holds deferred requests until they are due, the priority queue of requests waiting
 * for room, how fast room frees, and when each undecided request was first seen (its SLO budget).
 */
import type { Config } from './config.ts';
import { Heap } from './heap.ts';
import { PRIORITY, type Request, type Resource } from './types.ts';

type AdmissionConfig = Config['admission'];
type ThresholdSet = Config['pressure']['thresholds'];
export type PressureValues = Readonly<Record<Resource, number>>;

export const isHighPriority = (r: Request) => r.priority >= PRIORITY.high;

/**
 * Deferral table, applied to the pressure that holding a request back would relieve (the
 * pool lifecycle's `relievable`, lifecycle.ts): normal requests wait when cpu ≥ high or memory ≥ high; high
 * priority passes until the same resource is critical. I/O pressure never holds a request back: the
 * device is shared with everything on the host, and what fgo's own requests add to it cannot be
 * told apart from what they suffer. Returns the resource that forced deferral, or undefined.
 */
export function deferFor(
  p: Readonly<Record<'cpu' | 'memory', number>>,
  req: Request,
  t: ThresholdSet,
): 'cpu' | 'memory' | undefined {
  const bar = isHighPriority(req) ? 'critical' : 'high';
  if (p.cpu >= t.cpu[bar]) return 'cpu';
  if (p.memory >= t.memory[bar]) return 'memory';
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

/** Classic token bucket; a request that finds it empty is admitted later rather than refused. */
export class TokenBucket {
  private tokens: number;
  private last_ms: number | undefined;

  constructor(
    private readonly rate_per_s: number,
    private readonly burst: number,
    private readonly max_delay_ms: number,
  ) {
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

/** Earliest due first; at the same instant, the first queued. */
const dueFirst = (a: Deferred, b: Deferred) => a.due_ms < b.due_ms || (a.due_ms === b.due_ms && a.seq < b.seq);

/**
 * Deferred requests, released in priority order once due. A binary min-heap on (due, seq) finds
 * what is due; the released batch is then ordered by priority, so a high-priority request that
 * falls due together with low-priority ones goes first.
 */
export class DeferredQueue {
  private readonly heap = new Heap<Deferred>(dueFirst);
  private seq = 0;
  private readonly ids = new Set<string>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.heap.size;
  }

  get full(): boolean {
    return this.heap.size >= this.limit;
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
      const victim = this.victimFor(request);
      if (victim < 0 && !isHighPriority(request)) return { queued: false };
      if (victim >= 0) evicted = this.removeAt(victim).request;
    }
    this.heap.push({ request, due_ms, seq: this.seq++ });
    this.ids.add(request.id);
    return evicted ? { evicted, queued: true } : { queued: true };
  }

  /** The entry to evict for `request` (lowest priority below it and below high, youngest first), or −1. */
  private victimFor(request: Request): number {
    let victim = -1;
    let v: Deferred | undefined;
    for (let i = 0; i < this.heap.size; i++) {
      const e = this.heap.at(i) as Deferred;
      if (e.request.priority >= PRIORITY.high || e.request.priority >= request.priority) continue;
      if (
        !v ||
        e.request.priority < v.request.priority ||
        (e.request.priority === v.request.priority && e.seq > v.seq)
      ) {
        victim = i;
        v = e;
      }
    }
    return victim;
  }

  /** Everything due at t_ms, highest priority first, then earliest due, then first queued. */
  popDue(t_ms: number): Deferred[] {
    const out: Deferred[] = [];
    for (let e = this.heap.peek(); e !== undefined && e.due_ms <= t_ms; e = this.heap.peek())
      out.push(this.removeAt(0));
    return out.sort((a, b) => b.request.priority - a.request.priority || a.due_ms - b.due_ms || a.seq - b.seq);
  }

  remove(id: string): boolean {
    const i = this.heap.findIndex((e) => e.request.id === id);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  private removeAt(i: number): Deferred {
    const e = this.heap.removeAt(i);
    this.ids.delete(e.request.id);
    return e;
  }
}

/**
 * Requests waiting for room — nothing fits, or their pool is full — let out one at a time as room
 * frees instead of polling (a few thousand requests re-deciding every quarter second keep a full
 * host busy deciding): the highest priority first, first come first served within a priority, so
 * under overload high priority is served ahead of the backlog. One FIFO lane per priority, each an
 * array with a moving head (O(1) at both ends; the consumed prefix is dropped once it is most of
 * the array).
 */
export class RoomQueue {
  private readonly lanes: Array<{ waiting: Request[]; head: number }> = [0, 1, 2, 3].map(() => ({
    waiting: [],
    head: 0,
  }));

  get size(): number {
    return this.lanes.reduce((a, l) => a + l.waiting.length - l.head, 0);
  }

  /** Requests that would be let out before one of this priority arriving now. */
  aheadOf(priority: number): number {
    let n = 0;
    for (let p = 3; p >= priority; p--) {
      const l = this.lanes[p] as { waiting: Request[]; head: number };
      n += l.waiting.length - l.head;
    }
    return n;
  }

  push(request: Request): void {
    (this.lanes[request.priority] as { waiting: Request[] }).waiting.push(request);
  }

  /** Put back at the head of its lane a request that was let out and must wait again: it keeps its turn. */
  pushFront(request: Request): void {
    const l = this.lanes[request.priority] as { waiting: Request[]; head: number };
    if (l.head > 0) l.waiting[--l.head] = request;
    else l.waiting.unshift(request);
  }

  /** The longest-waiting request of the highest priority, taken off the queue; undefined when none waits. */
  next(): Request | undefined {
    for (let p = 3; p >= 0; p--) {
      const l = this.lanes[p] as { waiting: Request[]; head: number };
      if (l.head >= l.waiting.length) continue;
      const request = l.waiting[l.head++] as Request;
      if (l.head > 1024 && l.head * 2 > l.waiting.length) {
        l.waiting = l.waiting.slice(l.head);
        l.head = 0;
      }
      return request;
    }
    return undefined;
  }
}

/**
 * Completions per second over the last `window_s` seconds (whole-second buckets of the
 * observation clock): how fast room frees, so a request about to wait for room knows how long
 * the requests ahead of it will take to leave.
 */
export class CompletionRate {
  private readonly buckets: Float64Array;
  private lastSecond = -Infinity;

  constructor(readonly window_s = 10) {
    this.buckets = new Float64Array(window_s);
  }

  private roll(t_ms: number): number {
    const sec = Math.floor(t_ms / 1000);
    if (sec > this.lastSecond) {
      const gap = Math.min(this.window_s, sec - this.lastSecond);
      for (let i = 1; i <= gap; i++)
        this.buckets[(((sec - gap + i) % this.window_s) + this.window_s) % this.window_s] = 0;
      this.lastSecond = sec;
    }
    return ((sec % this.window_s) + this.window_s) % this.window_s;
  }

  add(t_ms: number): void {
    const i = this.roll(t_ms);
    this.buckets[i] = (this.buckets[i] as number) + 1;
  }

  /** Completions per second over the window ending at t_ms (0 before any). */
  perSecond(t_ms: number): number {
    this.roll(t_ms);
    let n = 0;
    for (const b of this.buckets) n += b;
    return n / this.window_s;
  }
}

/**
 * When each undecided request was first seen, so its waiting is bounded by what its SLO leaves (and
 * by max_defer_ms): a request is seen when it is first scheduled and forgotten once decided
 * otherwise than deferred (placed, shed, rejected, evicted).
 */
export class DeferralTimes {
  private readonly since = new Map<string, number>();

  /** The request is scheduled at t_ms; only its first sighting counts. Returns that instant. */
  seen(id: string, t_ms: number): number {
    const t0 = this.since.get(id);
    if (t0 !== undefined) return t0;
    this.since.set(id, t_ms);
    return t_ms;
  }

  known(id: string): boolean {
    return this.since.has(id);
  }

  /** How long the request has waited at t_ms (0 if it was never seen). */
  waited_ms(id: string, t_ms: number): number {
    return t_ms - (this.since.get(id) ?? t_ms);
  }

  forget(id: string): void {
    this.since.delete(id);
  }
}
