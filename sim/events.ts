/**
 * The twin's event queue and virtual clock: a binary min-heap on (time, insertion sequence), so
 * events at the same instant run in the order they were scheduled and every run with the same
 * inputs replays identically. Times are integer microseconds of simulated time.
 */
import { Heap } from '../engine/heap.ts';

export interface SimEvent {
  t_us: number;
  seq: number;
  run: () => void;
}

/** Earlier time first; at the same instant, the one scheduled first. */
const earlier = (a: SimEvent, b: SimEvent) => a.t_us < b.t_us || (a.t_us === b.t_us && a.seq < b.seq);

export class EventQueue {
  private readonly heap = new Heap<SimEvent>(earlier);
  private seq = 0;
  /** The virtual clock: the time of the event being run. */
  now_us = 0;
  /** Events run so far. */
  processed = 0;

  get size(): number {
    return this.heap.size;
  }

  /** Schedule `run` at `t_us` (never in the past: an event at an earlier time runs now). */
  at(t_us: number, run: () => void): void {
    this.heap.push({ t_us: Math.max(t_us, this.now_us), seq: this.seq++, run });
  }

  after(delay_us: number, run: () => void): void {
    this.at(this.now_us + delay_us, run);
  }

  /** Run events in order until the queue is empty or the next one is past `until_us`. */
  runUntil(until_us: number, onEach?: () => void): void {
    const h = this.heap;
    for (let next = h.peek(); next !== undefined && next.t_us <= until_us; next = h.peek()) {
      h.pop();
      this.now_us = next.t_us;
      this.processed++;
      next.run();
      onEach?.();
    }
    if (until_us > this.now_us) this.now_us = until_us;
  }
}
