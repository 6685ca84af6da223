import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../sim/events.ts';

describe('EventQueue', () => {
  it('runs events in time order, ties in scheduling order, and advances the clock', () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(30, () => seen.push(`c@${q.now_us}`));
    q.at(10, () => seen.push(`a@${q.now_us}`));
    q.at(10, () => seen.push(`b@${q.now_us}`));
    q.at(20, () => q.after(0, () => seen.push(`d@${q.now_us}`))); // an event may schedule another for now
    q.runUntil(100);
    expect(seen).toEqual(['a@10', 'b@10', 'd@20', 'c@30']);
    expect(q.now_us).toBe(100);
    expect(q.processed).toBe(5);
  });

  it('never runs an event in the past: one scheduled earlier than now runs now', () => {
    const q = new EventQueue();
    let at = -1;
    q.at(50, () => q.at(10, () => (at = q.now_us)));
    q.runUntil(100);
    expect(at).toBe(50);
  });

  it('stops at the horizon and keeps later events', () => {
    const q = new EventQueue();
    let ran = 0;
    q.at(5, () => ran++);
    q.at(500, () => ran++);
    q.runUntil(100);
    expect(ran).toBe(1);
    expect(q.size).toBe(1);
  });

  it('property: any schedule comes out sorted by (time, insertion order)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
        const q = new EventQueue();
        const out: Array<[number, number]> = [];
        times.forEach((t, i) => {
          q.at(t, () => out.push([t, i]));
        });
        q.runUntil(1000);
        const sorted = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(sorted);
      }),
    );
  });
});
