import { describe, expect, it } from 'vitest';
import { Heap } from '../../engine/heap.ts';

interface Item {
  key: number;
  name: string;
  at: number;
}

const item = (key: number, name: string): Item => ({ key, name, at: -1 });
const byKey = (a: Item, b: Item) => a.key < b.key;
const track = (x: Item, i: number) => {
  x.at = i;
};

function drain(h: Heap<Item>): string[] {
  const out: string[] = [];
  for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x.name);
  return out;
}

describe('Heap', () => {
  it('pops in order of a strict total order, whatever the insertion order', () => {
    const h = new Heap<number>((a, b) => a < b);
    for (const x of [5, 3, 8, 1, 9, 2, 7]) h.push(x);
    expect(h.size).toBe(7);
    expect(h.peek()).toBe(1);
    const out: number[] = [];
    for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
    expect(out).toEqual([1, 2, 3, 5, 7, 8, 9]);
    expect(h.pop()).toBeUndefined();
  });

  it('breaks ties by its sift rules: a rising item stays below an equal parent', () => {
    // push a → [a]; push b: its parent a is not greater → [a, b]; push c at 2: its parent a is
    // greater → [c, b, a]. pop c: the last item, a, fills the root; its child b is not less → [a, b].
    const h = new Heap<Item>(byKey);
    for (const x of [item(1, 'a'), item(1, 'b'), item(0, 'c')]) h.push(x);
    expect(drain(h)).toEqual(['c', 'a', 'b']);
  });

  it('takes the left child on a tie between children', () => {
    // [r(0), x(2), y(2)]: popping r puts y (last) at the root with the single child x: x is not
    // less than y, so y comes out first although x was pushed first.
    const h = new Heap<Item>(byKey);
    for (const x of [item(0, 'r'), item(2, 'x'), item(2, 'y')]) h.push(x);
    expect(drain(h)).toEqual(['r', 'y', 'x']);
  });

  it('tells each item its index as it moves, and removes from the middle', () => {
    const h = new Heap<Item>(byKey, track);
    const xs = [item(4, 'd'), item(2, 'b'), item(3, 'c'), item(1, 'a'), item(5, 'e')];
    for (const x of xs) h.push(x);
    for (const x of xs) expect(h.at(x.at)).toBe(x);
    const c = xs[2] as Item;
    expect(h.removeAt(c.at)).toBe(c);
    for (const x of xs) if (x !== c) expect(h.at(x.at)).toBe(x);
    expect(drain(h)).toEqual(['a', 'b', 'd', 'e']);
  });

  it('finds an item by a predicate', () => {
    const h = new Heap<Item>(byKey);
    h.push(item(2, 'b'));
    h.push(item(1, 'a'));
    expect(h.findIndex((x) => x.name === 'b')).toBe(1);
    expect(h.findIndex((x) => x.name === 'z')).toBe(-1);
  });
});
