/**
 * A binary min-heap under a caller's strict order `less`. Ties go as follows, and every user's
 * order depends on them being exactly so: an item rising stops below a parent that is not greater
 * (`!less(item, parent)`); an item sinking stays above children that are not less than it, and of
 * two children the left one is taken unless the right one is less. Users whose order has no ties
 * (a sequence number last) pop in the same order whatever the shape; the twin's processor-sharing
 * servers have ties (equal finish times), so its pops depend on these rules too.
 *
 * `moved`, when given, is told of every item's new index as it moves (a position kept on the item
 * lets it be removed from the middle in O(log n)).
 */
export class Heap<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly less: (a: T, b: T) => boolean,
    private readonly moved?: (item: T, index: number) => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** The least item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The item at `index` in heap order (0 is the least), for scans that look at every item. */
  at(index: number): T | undefined {
    return this.items[index];
  }

  /** The index of the first item (in heap order) that `match` accepts, or −1. */
  findIndex(match: (item: T) => boolean): number {
    return this.items.findIndex(match);
  }

  push(item: T): void {
    this.items.push(item);
    this.up(this.items.length - 1, item);
  }

  /** Take the least item off, or undefined when empty. */
  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop() as T;
    if (h.length > 0) this.down(0, last);
    return top;
  }

  /** Take the item at `index` off (from `moved` or `findIndex`) and return it. */
  removeAt(index: number): T {
    const h = this.items;
    const item = h[index] as T;
    const last = h.pop() as T;
    if (index < h.length) {
      // The last item takes the hole: it sinks if a child is less, else it may rise.
      if (this.down(index, last) === index) this.up(index, last);
    }
    return item;
  }

  /** Move `item` from the hole at `i` towards the root; returns where it settles. */
  private up(i: number, item: T): number {
    const h = this.items;
    const moved = this.moved;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as T;
      if (!this.less(item, parent)) break;
      h[i] = parent;
      if (moved) moved(parent, i);
      i = p;
    }
    h[i] = item;
    if (moved) moved(item, i);
    return i;
  }

  /** Move `item` from the hole at `i` towards the leaves; returns where it settles. */
  private down(i: number, item: T): number {
    const h = this.items;
    const n = h.length;
    const moved = this.moved;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = -1;
      let least = item;
      const left = h[l] as T;
      if (this.less(left, least)) {
        c = l;
        least = left;
      }
      const r = l + 1;
      if (r < n && this.less(h[r] as T, least)) {
        c = r;
        least = h[r] as T;
      }
      if (c < 0) break;
      h[i] = least;
      if (moved) moved(least, i);
      i = c;
    }
    h[i] = item;
    if (moved) moved(item, i);
    return i;
  }
}
