/**
 * A pressure history: a fixed-capacity ring of (time, value) samples from which pressure.ts reads a
 * resource's trend, velocity and short-horizon prediction.
 */
/** Where a history keeps its samples: `stride` numbers per slot, the time first, its value at `column`. */
export interface HistoryStore {
  data: Float64Array;
  stride: number;
  column: number;
}

/**
 * Fixed-capacity ring of (time, value) samples; the oldest sample is overwritten. Histories pushed
 * at the same instants, always together (a scope's cpu, memory and io), may share one store, so a
 * sample of all three writes one slot: at 64 nodes every PSI sample touches 65 scopes.
 */
export class History {
  private readonly data: Float64Array;
  private readonly stride: number;
  private readonly column: number;
  private head = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    store?: HistoryStore,
  ) {
    if (!(capacity >= 2)) throw new Error('History: capacity must be at least 2');
    this.stride = store?.stride ?? 2;
    this.column = store?.column ?? 1;
    this.data = store?.data ?? new Float64Array(capacity * this.stride);
    if (!(this.column >= 1 && this.column < this.stride && this.data.length >= capacity * this.stride))
      throw new Error('History: store too small for its capacity and column');
  }

  get length(): number {
    return this.count;
  }

  push(t_s: number, v: number): void {
    const k = this.head * this.stride;
    this.data[k] = t_s;
    this.data[k + this.column] = v;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The i-th most recent sample (0 = newest). */
  at(i: number): { t_s: number; v: number } {
    if (i < 0 || i >= this.count) throw new Error(`History.at: ${i} outside 0..${this.count - 1}`);
    const k = ((this.head - 1 - i + this.capacity) % this.capacity) * this.stride;
    return { t_s: this.data[k] as number, v: this.data[k + this.column] as number };
  }

  /**
   * Least-squares slope (value per second) over the newest `window` samples; 0 with fewer than 2.
   * Reads the ring directly, newest first (as `at` would, without an object per sample): every
   * scope's view is recomputed at each new sample.
   */
  slope(window: number): number {
    const n = Math.min(window, this.count);
    if (n < 2) return 0;
    const cap = this.capacity,
      newest = this.head - 1 + cap,
      d = this.data,
      w = this.stride,
      c = this.column;
    let st = 0,
      sv = 0;
    for (let i = 0; i < n; i++) {
      const k = ((newest - i) % cap) * w;
      st += d[k] as number;
      sv += d[k + c] as number;
    }
    const mt = st / n,
      mv = sv / n;
    let num = 0,
      den = 0;
    for (let i = 0; i < n; i++) {
      const k = ((newest - i) % cap) * w;
      const dt = (d[k] as number) - mt;
      num += dt * ((d[k + c] as number) - mv);
      den += dt ** 2;
    }
    return den === 0 ? 0 : num / den;
  }
}

/**
 * Do two readings carry the same numbers (a shell passing on the sample it already gave)? Each
 * resource named, not looped over by key: this runs for every node at every sample.
 */
