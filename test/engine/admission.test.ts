import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompletionRate,
  DeferredQueue,
  deferFor,
  isHighPriority,
  retryDelay_ms,
  RoomQueue,
  TokenBucket,
} from '../../engine/admission.ts';
import { defaultConfig, type Config } from '../../engine/config.ts';
import type { Priority, Request } from '../../engine/types.ts';

const cfg = defaultConfig();
const T = cfg.pressure.thresholds;
const adm = cfg.admission;
const admWith = (over: Partial<Config['admission']>): Config['admission'] => ({
  ...defaultConfig().admission,
  ...over,
});

const req = (id: string, priority: Priority = 1, io_intensive = false): Request => ({
  id,
  profile: 'fn',
  cpus: 1,
  memory_kb: 1024,
  priority,
  io_intensive,
});
const P = (cpu: number, memory: number) => ({ cpu, memory });

describe('admission defaults', () => {
  it('are the design seeds', () => {
    expect(adm.retry_base_ms).toBe(1000);
    expect(adm.retry_max_ms).toBe(30_000);
    expect(adm.retry_jitter).toBe(0.2);
  });

  it('isHighPriority is priority ≥ 2', () => {
    expect(isHighPriority(req('a', 0))).toBe(false);
    expect(isHighPriority(req('a', 1))).toBe(false);
    expect(isHighPriority(req('a', 2))).toBe(true);
    expect(isHighPriority(req('a', 3))).toBe(true);
  });
});

describe('deferFor (on the pressure waiting would relieve)', () => {
  // bars: normal → high (cpu 0.8, memory 0.7); priority ≥ 2 → critical (cpu 0.9, memory 0.85)
  for (const pr of [0, 1] as const) {
    describe(`priority ${pr} (below high)`, () => {
      it('passes with no pressure and just below every high bar', () => {
        expect(deferFor(P(0, 0), req('r', pr), T)).toBeUndefined();
        expect(deferFor(P(0.79, 0.69), req('r', pr, true), T)).toBeUndefined(); // each < its high
      });
      it('defers at cpu ≥ 0.8 (inclusive)', () => {
        expect(deferFor(P(0.8, 0), req('r', pr), T)).toBe('cpu');
        expect(deferFor(P(0.95, 0), req('r', pr), T)).toBe('cpu');
      });
      it('defers at memory ≥ 0.7 (inclusive)', () => {
        expect(deferFor(P(0, 0.7), req('r', pr), T)).toBe('memory');
        expect(deferFor(P(0, 1), req('r', pr), T)).toBe('memory');
      });
    });
  }

  it('reports cpu before memory', () => {
    expect(deferFor(P(0.8, 0.7), req('r', 1), T)).toBe('cpu');
    expect(deferFor(P(0.5, 0.7), req('r', 1), T)).toBe('memory');
  });

  for (const pr of [2, 3] as const) {
    describe(`priority ${pr} (high/critical) passes until critical`, () => {
      it('passes above high but below critical', () => {
        // cpu 0.85 ≥ high 0.8 but < critical 0.9; memory 0.8 ≥ 0.7 but < 0.85
        expect(deferFor(P(0.85, 0.8), req('r', pr), T)).toBeUndefined();
        expect(deferFor(P(0.899, 0.849), req('r', pr), T)).toBeUndefined();
      });
      it('defers at critical (inclusive)', () => {
        expect(deferFor(P(0.9, 0), req('r', pr), T)).toBe('cpu');
        expect(deferFor(P(0, 0.85), req('r', pr), T)).toBe('memory');
      });
    });
  }
});

describe('retryDelay_ms', () => {
  // defaults: base 1000, max 30 000, jitter 0.2 → factor 1 + 0.2 (2u − 1): u=0 → 0.8, u=0.5 → 1, u=1 → 1.2
  it('p = 0.85: 1000 × (1 + 7.65) = 8650, jittered by ±20 %', () => {
    expect(retryDelay_ms(0.85, adm, 0)).toBe(6920); // 8650 × 0.8 = 6920
    expect(retryDelay_ms(0.85, adm, 0.5)).toBe(8650); // 8650 × 1
    expect(retryDelay_ms(0.85, adm, 1)).toBe(10380); // 8650 × 1.2 = 10 380
  });

  it('spans base (p = 0) to 10 × base (p = 1)', () => {
    expect(retryDelay_ms(0, adm, 0.5)).toBe(1000); // 1000 × (1 + 0)
    expect(retryDelay_ms(0, adm, 0)).toBe(800); // 1000 × 0.8
    expect(retryDelay_ms(0, adm, 1)).toBe(1200); // 1000 × 1.2
    expect(retryDelay_ms(1, adm, 0.5)).toBe(10_000); // 1000 × (1 + 9)
    expect(retryDelay_ms(0.5, adm, 0.5)).toBe(5500); // 1000 × (1 + 4.5)
    expect(retryDelay_ms(0.5, adm, 0.25)).toBe(4950); // 5500 × (1 + 0.2 × (−0.5)) = 5500 × 0.9
    expect(retryDelay_ms(0.2, adm, 0.75)).toBe(3080); // 1000 × (1 + 1.8) = 2800; × (1 + 0.2 × 0.5) = 2800 × 1.1
  });

  it('caps the raw delay at retry_max_ms, and the jittered one too', () => {
    const c = admWith({ retry_base_ms: 5000 });
    // raw = min(30 000, 5000 × (1 + 9)) = min(30 000, 50 000) = 30 000
    expect(retryDelay_ms(1, c, 0.5)).toBe(30_000);
    expect(retryDelay_ms(1, c, 0)).toBe(24_000); // 30 000 × 0.8
    expect(retryDelay_ms(1, c, 1)).toBe(30_000); // 30 000 × 1.2 = 36 000 → capped at 30 000
    // p = 0.5: 5000 × 5.5 = 27 500 (under the cap); u = 1 → 33 000 → 30 000; u = 0 → 22 000
    expect(retryDelay_ms(0.5, c, 1)).toBe(30_000);
    expect(retryDelay_ms(0.5, c, 0)).toBe(22_000);
  });

  it('without jitter u does not matter', () => {
    const c = admWith({ retry_jitter: 0 });
    for (const u of [0, 0.3, 1]) expect(retryDelay_ms(0.85, c, u)).toBe(8650);
  });

  it('never returns less than 1 ms', () => {
    const c = admWith({ retry_base_ms: 1, retry_jitter: 0.9 });
    // raw = 1 × (1 + 0) = 1; × (1 − 0.9) = 0.1 → round 0 → max(1, 0) = 1
    expect(retryDelay_ms(0, c, 0)).toBe(1);
  });

  it('stays within [round(raw × 0.8), min(max, round(raw × 1.2))] for any p, u (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (p, u) => {
        const raw = Math.min(30_000, 1000 * (1 + 9 * p));
        const d = retryDelay_ms(p, adm, u);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(Math.round(raw * 0.8));
        expect(d).toBeLessThanOrEqual(Math.min(30_000, Math.round(raw * 1.2)));
      }),
    );
  });
});

describe('RoomQueue: highest priority first, first come first served within a priority', () => {
  it('lets out critical, then high, then normal, then low; in arrival order within each', () => {
    const q = new RoomQueue();
    for (const [id, pr] of [
      ['l1', 0],
      ['n1', 1],
      ['h1', 2],
      ['n2', 1],
      ['c1', 3],
      ['l2', 0],
      ['h2', 2],
    ] as const)
      q.push(req(id, pr));
    expect(q.size).toBe(7);
    // Ahead of a newcomer: everything of its priority or higher.
    expect([0, 1, 2, 3].map((p) => q.aheadOf(p))).toEqual([7, 5, 3, 1]);
    const order: string[] = [];
    for (let r = q.next(); r; r = q.next()) order.push(r.id);
    expect(order).toEqual(['c1', 'h1', 'h2', 'n1', 'n2', 'l1', 'l2']);
    expect(q.size).toBe(0);
    expect(q.next()).toBeUndefined();
  });

  it('keeps every request exactly once through long runs of pushes and pops (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), { maxLength: 3000 }), (ops) => {
        const q = new RoomQueue();
        const out: string[] = [];
        let n = 0;
        for (const [push, pr] of ops) {
          if (push) q.push(req(`r${n++}`, pr as Priority));
          else {
            const r = q.next();
            if (r) out.push(r.id);
          }
        }
        for (let r = q.next(); r; r = q.next()) out.push(r.id);
        expect(out.length).toBe(n);
        expect(new Set(out).size).toBe(n);
      }),
    );
  });
});

describe('CompletionRate: completions per second over the last 10 s', () => {
  it('counts whole-second buckets and forgets what is older than the window', () => {
    const c = new CompletionRate(10);
    expect(c.perSecond(0)).toBe(0);
    for (let i = 0; i < 30; i++) c.add(i * 100); // 30 completions at 0, 100, …, 2900 ms: seconds 0, 1, 2 (10 each)
    expect(c.perSecond(3_400)).toBe(3); // 30 in the 10-s window
    expect(c.perSecond(10_999)).toBe(2); // second 0 has left the window (seconds 1–10)
    expect(c.perSecond(12_000)).toBe(0); // all three have
    c.add(12_500);
    expect(c.perSecond(12_900)).toBe(0.1);
    expect(c.perSecond(100_000)).toBe(0); // a long quiet gap clears every bucket
  });
});

describe('TokenBucket', () => {
  it('admits a burst back to back, then delays by the refill time', () => {
    const b = new TokenBucket(10, 3, 1000); // 10/s, burst 3
    expect(b.take(0)).toBe(0); // tokens 3 → 2
    expect(b.take(0)).toBe(0); // 2 → 1
    expect(b.take(0)).toBe(0); // 1 → 0
    expect(b.take(0)).toBe(100); // (1 − 0) / 10 s = 100 ms; borrows: tokens −1
    expect(b.take(0)).toBe(200); // (1 − (−1)) / 10 s = 200 ms; tokens −2
  });

  it('refills at the rate', () => {
    const b = new TokenBucket(10, 3, 1000);
    for (let i = 0; i < 5; i++) b.take(0); // tokens 3 − 5 = −2 (two borrowed)
    // 300 ms later: −2 + 0.3 s × 10/s = 1 → admitted at once, tokens 0
    expect(b.take(300)).toBe(0);
    expect(b.take(300)).toBe(100); // (1 − 0) / 10 → 100 ms
  });

  it('refill is capped at the burst', () => {
    const b = new TokenBucket(10, 3, 1000);
    expect(b.take(0)).toBe(0); // tokens 2
    // 10 s later: min(3, 2 + 10 × 10) = 3
    expect(b.take(10_000)).toBe(0);
    expect(b.take(10_000)).toBe(0);
    expect(b.take(10_000)).toBe(0);
    expect(b.take(10_000)).toBe(100); // only 3 were available, not 102
  });

  it('computes delays from fractional tokens and rounds up', () => {
    const b = new TokenBucket(4, 1, 5000); // 4/s
    expect(b.take(0)).toBe(0); // tokens 0
    // 100 ms later: 0 + 0.1 × 4 = 0.4; delay (1 − 0.4) / 4 s = 0.15 s = 150 ms
    expect(b.take(100)).toBe(150);
    const c = new TokenBucket(3, 1, 5000); // 3/s
    expect(c.take(0)).toBe(0);
    // 100 ms later: 0.3 tokens; (1 − 0.3) / 3 s = 0.2333… s = 233.3 ms → ceil 234
    expect(c.take(100)).toBe(234);
  });

  it('refuses (undefined) beyond max_delay_ms without consuming a token; the limit is inclusive', () => {
    const b = new TokenBucket(1, 1, 1500); // 1/s, burst 1, at most 1.5 s delay
    expect(b.take(0)).toBe(0); // tokens 0
    expect(b.take(0)).toBe(1000); // (1 − 0) / 1 s = 1000 ms ≤ 1500; tokens −1
    expect(b.take(0)).toBeUndefined(); // (1 − (−1)) / 1 = 2000 ms > 1500
    expect(b.take(0)).toBeUndefined(); // refusal did not borrow: still 2000 ms
    // 500 ms later: −1 + 0.5 = −0.5 → (1 + 0.5) / 1 s = 1500 ms = max → admitted (only > refuses)
    expect(b.take(500)).toBe(1500);
    expect(b.take(500)).toBeUndefined(); // tokens −1.5 → 2500 ms
  });

  it('does not refill when time goes backwards', () => {
    const b = new TokenBucket(10, 1, 1000);
    expect(b.take(1000)).toBe(0); // tokens 0, last 1000
    expect(b.take(500)).toBe(100); // earlier time: no refill; (1 − 0) / 10 = 100 ms, tokens −1
    // refill is measured from 1000 (the latest time seen): −1 + 0.1 × 10 = 0 → 100 ms
    expect(b.take(1100)).toBe(100);
  });
});

describe('DeferredQueue', () => {
  const ids = (ds: { request: Request }[]) => ds.map((d) => d.request.id);

  it('releases entries once due (inclusive), earliest first', () => {
    const q = new DeferredQueue(10);
    q.push(req('a'), 300);
    q.push(req('b'), 100);
    q.push(req('c'), 200);
    expect(q.size).toBe(3);
    expect(q.popDue(50)).toEqual([]);
    expect(ids(q.popDue(100))).toEqual(['b']); // due 100 ≤ 100
    expect(ids(q.popDue(250))).toEqual(['c']);
    expect(q.size).toBe(1);
    expect(q.has('a')).toBe(true);
    expect(q.has('b')).toBe(false);
    const last = q.popDue(1000);
    expect(last).toHaveLength(1);
    expect(last[0]?.due_ms).toBe(300);
    expect(q.size).toBe(0);
    expect(q.popDue(Infinity)).toEqual([]);
  });

  it('orders a due batch by priority, then due, then queue order', () => {
    const q = new DeferredQueue(10);
    q.push(req('low', 0), 100);
    q.push(req('crit', 3), 200);
    q.push(req('norm', 1), 150);
    q.push(req('high', 2), 150);
    q.push(req('norm-early', 1), 120);
    q.push(req('norm-tie', 1), 150); // same priority and due as 'norm', queued after it
    q.push(req('later', 3), 201); // not yet due
    expect(ids(q.popDue(200))).toEqual(['crit', 'high', 'norm-early', 'norm', 'norm-tie', 'low']);
    expect(ids(q.popDue(201))).toEqual(['later']);
  });

  it('full and size', () => {
    const q = new DeferredQueue(2);
    expect(q.full).toBe(false);
    q.push(req('a'), 1);
    expect(q.full).toBe(false);
    q.push(req('b'), 1);
    expect(q.full).toBe(true);
    expect(q.size).toBe(2);
  });

  it('when full, evicts the youngest entry of the lowest priority below the newcomer', () => {
    const q = new DeferredQueue(3);
    q.push(req('low-old', 0), 100);
    q.push(req('low-young', 0), 50); // younger (queued later) though due earlier
    q.push(req('norm', 1), 100);
    const r = q.push(req('high', 2), 100);
    expect(r.queued).toBe(true);
    expect(r.evicted?.id).toBe('low-young'); // lowest priority 0; of the two, the younger
    expect(q.size).toBe(3);
    expect(q.has('low-young')).toBe(false);
    // next: a normal request evicts the remaining low one
    const r2 = q.push(req('norm2', 1), 100);
    expect(r2).toEqual({ queued: true, evicted: req('low-old', 0) });
    expect(ids(q.popDue(1000)).sort()).toEqual(['high', 'norm', 'norm2']);
  });

  it('prefers the lowest priority over the youngest', () => {
    const q = new DeferredQueue(2);
    q.push(req('low', 0), 100); // older but lower
    q.push(req('norm', 1), 100); // younger
    expect(q.push(req('crit', 3), 100).evicted?.id).toBe('low');
  });

  it('refuses a newcomer when nothing below its priority can go', () => {
    const q = new DeferredQueue(2);
    q.push(req('n1', 1), 100);
    q.push(req('n2', 1), 100);
    expect(q.push(req('n3', 1), 100)).toEqual({ queued: false }); // equal priority is not evicted
    expect(q.push(req('l', 0), 100)).toEqual({ queued: false });
    expect(q.size).toBe(2);
    expect(q.has('n3')).toBe(false);
  });

  it('never evicts high priority entries and never refuses high priority', () => {
    const q = new DeferredQueue(2);
    q.push(req('h1', 2), 100);
    q.push(req('c1', 3), 100);
    // nothing evictable: a normal request is refused …
    expect(q.push(req('n', 1), 100)).toEqual({ queued: false });
    // … but high and critical requests still enter, over the limit
    expect(q.push(req('h2', 2), 100)).toEqual({ queued: true });
    expect(q.push(req('c2', 3), 100)).toEqual({ queued: true });
    expect(q.size).toBe(4);
    expect(ids(q.popDue(100))).toEqual(['c1', 'c2', 'h1', 'h2']);
  });

  it('a critical newcomer does not evict a high entry, but does evict a normal one', () => {
    const q = new DeferredQueue(2);
    q.push(req('h', 2), 100);
    q.push(req('n', 1), 100);
    const r = q.push(req('c', 3), 100);
    expect(r.evicted?.id).toBe('n');
    expect(q.has('h')).toBe(true);
  });

  it('re-pushing a queued id replaces the entry', () => {
    const q = new DeferredQueue(10);
    q.push(req('x', 0), 100);
    q.push(req('y', 1), 300);
    expect(q.push(req('x', 2), 500)).toEqual({ queued: true });
    expect(q.size).toBe(2);
    expect(q.popDue(200)).toEqual([]); // the old due 100 is gone
    const out = q.popDue(500);
    expect(ids(out)).toEqual(['x', 'y']); // x now priority 2
    expect(out[0]?.due_ms).toBe(500);
    expect(out[0]?.request.priority).toBe(2);
  });

  it('re-pushing a queued id into a full queue replaces it without evicting or refusing', () => {
    const q = new DeferredQueue(2);
    q.push(req('a', 0), 100);
    q.push(req('b', 0), 100);
    // same id, same priority: the queue does not grow, so nothing needs to make room
    expect(q.push(req('b', 0), 400)).toEqual({ queued: true });
    expect(q.size).toBe(2);
    expect(q.has('a')).toBe(true);
    // same id, raised priority: must not evict the other entry, nor its own old entry
    expect(q.push(req('a', 1), 300)).toEqual({ queued: true });
    expect(q.size).toBe(2);
    expect(q.has('a')).toBe(true);
    expect(q.has('b')).toBe(true);
    expect(ids(q.popDue(400))).toEqual(['a', 'b']);
  });

  it('remove', () => {
    const q = new DeferredQueue(10);
    q.push(req('a'), 100);
    q.push(req('b'), 50);
    expect(q.remove('a')).toBe(true);
    expect(q.remove('a')).toBe(false);
    expect(q.has('a')).toBe(false);
    expect(ids(q.popDue(1000))).toEqual(['b']);
  });

  it('popDue never returns an entry not yet due and returns every due entry exactly once (property)', () => {
    type Op = { kind: 'push'; id: number; due: number; priority: Priority } | { kind: 'pop'; t: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('push' as const),
          id: fc.integer({ min: 0, max: 15 }),
          due: fc.integer({ min: 0, max: 1000 }),
          priority: fc.constantFrom<Priority>(0, 1, 2, 3),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('pop' as const), t: fc.integer({ min: -10, max: 1100 }) }),
      },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const q = new DeferredQueue(1_000); // large: no eviction, so the model is a plain map
        const model = new Map<string, { due: number; priority: Priority }>();
        const check = (t: number) => {
          const out = q.popDue(t);
          const got = out.map((d) => d.request.id);
          expect(new Set(got).size).toBe(got.length); // no entry twice
          for (const d of out) {
            expect(d.due_ms).toBeLessThanOrEqual(t); // nothing early
            expect(model.get(d.request.id)).toEqual({ due: d.due_ms, priority: d.request.priority }); // latest push wins
          }
          const due = [...model].filter(([, v]) => v.due <= t).map(([k]) => k);
          expect([...got].sort()).toEqual(due.sort()); // every due entry
          for (let i = 1; i < out.length; i++) {
            const a = out[i - 1] as (typeof out)[number],
              b = out[i] as (typeof out)[number];
            // priority descending, then due ascending
            expect(
              a.request.priority > b.request.priority ||
                (a.request.priority === b.request.priority && a.due_ms <= b.due_ms),
            ).toBe(true);
          }
          for (const id of got) model.delete(id);
          expect(q.size).toBe(model.size);
        };
        for (const o of ops) {
          if (o.kind === 'push') {
            const id = `r${o.id}`;
            expect(q.push(req(id, o.priority), o.due).queued).toBe(true);
            model.set(id, { due: o.due, priority: o.priority });
          } else check(o.t);
        }
        check(Infinity); // drains the rest
        expect(q.size).toBe(0);
      }),
    );
  });

  it('with a small limit, every queued request leaves exactly once, by popDue, eviction or replacement (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.record({
            id: fc.integer({ min: 0, max: 7 }),
            due: fc.integer({ min: 0, max: 100 }),
            priority: fc.constantFrom<Priority>(0, 1, 2, 3),
          }),
          { maxLength: 40 },
        ),
        (limit, pushes) => {
          const q = new DeferredQueue(limit);
          const inside = new Set<string>();
          for (const p of pushes) {
            const id = `r${p.id}`;
            const wasFull = q.full;
            const sizeBefore = q.size;
            const again = inside.delete(id); // a re-push replaces the queued entry
            const r = q.push(req(id, p.priority), p.due);
            if (!r.queued) {
              expect(wasFull).toBe(true);
              expect(p.priority).toBeLessThan(2); // high priority is never refused
              expect(q.has(id)).toBe(false);
              expect(q.size).toBe(inside.size);
              continue;
            }
            if (r.evicted) {
              // a re-push frees its own slot first, so it evicts only when the queue stays full without it
              if (again) expect(sizeBefore - 1).toBeGreaterThanOrEqual(limit);
              expect(r.evicted.id).not.toBe(id);
              expect(r.evicted.priority).toBeLessThan(2); // high never evicted
              expect(r.evicted.priority).toBeLessThan(p.priority); // only for someone more important
              expect(inside.delete(r.evicted.id)).toBe(true);
            }
            inside.add(id);
            expect(q.size).toBe(inside.size);
          }
          const out = q.popDue(Infinity).map((d) => d.request.id);
          expect(new Set(out).size).toBe(out.length);
          expect(out.sort()).toEqual([...inside].sort());
          expect(q.size).toBe(0);
        },
      ),
    );
  });
});
