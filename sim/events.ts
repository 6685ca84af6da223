/**
 * The twin's event queue and virtual clock: a binary min-heap on (time, insertion sequence), so
 * events at the same instant run in the order they were scheduled and every run with the same
 * inputs replays identically. Times are integer microseconds of simulated time.
 */

export interface SimEvent {
  t_us: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private heap: SimEvent[] = [];
  private seq = 0;
  /** The virtual clock: the time of the event being run. */
  now_us = 0;
  /** Events run so far. */
  processed = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedule `run` at `t_us` (never in the past: an event at an earlier time runs now). */
  at(t_us: number, run: () => void): void {
    const e: SimEvent = { t_us: Math.max(t_us, this.now_us), seq: this.seq++, run };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const q = h[p] as SimEvent;
      if (q.t_us < e.t_us || (q.t_us === e.t_us && q.seq < e.seq)) break;
      h[i] = q;
      i = p;
    }
    h[i] = e;
  }

  after(delay_us: number, run: () => void): void {
    this.at(this.now_us + delay_us, run);
  }

  /** Run events in order until the queue is empty or the next one is past `until_us`. */
  runUntil(until_us: number, onEach?: () => void): void {
    const h = this.heap;
    while (h.length > 0 && (h[0] as SimEvent).t_us <= until_us) {
      const e = this.pop();
      this.now_us = e.t_us;
      this.processed++;
      e.run();
      onEach?.();
    }
    if (until_us > this.now_us) this.now_us = until_us;
  }

  private pop(): SimEvent {
    const h = this.heap;
    const top = h[0] as SimEvent;
    const last = h.pop() as SimEvent;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        const cl = h[l] as SimEvent;
        if (r < n) {
          const cr = h[r] as SimEvent;
          if (cr.t_us < cl.t_us || (cr.t_us === cl.t_us && cr.seq < cl.seq)) c = r;
        }
        const child = h[c] as SimEvent;
        if (last.t_us < child.t_us || (last.t_us === child.t_us && last.seq < child.seq)) break;
        h[i] = child;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
