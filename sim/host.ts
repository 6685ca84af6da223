/**
 * The execution model of the twin: what running work does to a host.
 *
 * - CPU: per-node processor sharing. A node's runnable work shares its online CPUs; with total
 *   weight n on c CPUs every unit of weight progresses at min(1, c/n) of full speed. Finish times
 *   are kept in node virtual time, so a change of load costs O(log n), not O(n).
 * - Remote memory: work placed away from its data's node runs slower by
 *   1 + memory_intensity × (SLIT distance ÷ local distance − 1) — set when the work starts.
 * - Memory: each node has a capacity; past it, everything on the node thrashes — reclaim and
 *   refaults stall it by thrashStall(used, capacity) (sim/thrash.ts), which slows progress and
 *   shows as memory pressure.
 * - I/O: one device shared by the host, serving `parallelism` requests at full speed (processor
 *   sharing beyond that); a task in I/O is in iowait, i.e. stalled on I/O.
 *
 * - Neighbours: work of processes fgo does not manage (a replayed recording, sim/background.ts)
 *   adds runnable tasks to a node's CPUs, blocked tasks to the I/O device, memory to the node, and
 *   its own memory stall to the node's memory pressure.
 *
 * It reports the stall fractions the kernel's PSI accounting would see (psi.ts turns them into
 * avg10/avg60/avg300 and totals).
 */
import type { Topology } from '../engine/index.ts';
import { cpuStall } from './psi-stall.ts';
import { Heap } from '../engine/heap.ts';

export interface Task {
  /** Work left, in µs of one CPU at full speed (CPU phase) or of device time (I/O phase). */
  work_us: number;
  weight: number;
  /** Finish instant in the virtual time of the server it is on. */
  finish_v: number;
  /** Position in its server's heap, −1 when not queued. */
  heap_i: number;
  done: () => void;
}

/** Earlier virtual finish first; equal ones as the heap's tie rules leave them (engine/heap.ts). */
const finishesFirst = (a: Task, b: Task) => a.finish_v < b.finish_v;
const keepIndex = (t: Task, i: number) => {
  t.heap_i = i;
};

/**
 * A processor-sharing server: capacity `c` units shared by the queued tasks' weights. Virtual time
 * v advances at the per-weight rate; a task finishes when v reaches its finish_v.
 */
export class PsServer {
  private readonly heap = new Heap<Task>(finishesFirst, keepIndex);
  weight = 0;
  /**
   * Runnable weight of work that never finishes here (a neighbour's processes): it shares the
   * capacity like any task, so it slows the queued tasks and counts as busy, but has no heap entry.
   */
  background = 0;
  private v = 0;
  private last_us = 0;
  /** Extra slowdown factor 0–1 applied to everyone (memory reclaim). */
  stall = 0;
  /** Bumped on every change; a scheduled completion carrying an older version is stale. */
  version = 0;
  /** ∫ busy units dt, for utilization. */
  busy_unit_us = 0;

  constructor(public capacity: number) {}

  get count(): number {
    return this.heap.size;
  }

  rate(): number {
    if (this.weight === 0 || this.capacity <= 0) return 0;
    return Math.min(1, this.capacity / (this.weight + this.background)) * (1 - this.stall);
  }

  /** Bring virtual time up to now. Call before any change. */
  advance(now_us: number): void {
    const dt = now_us - this.last_us;
    if (dt > 0) {
      this.v += this.rate() * dt;
      this.busy_unit_us += Math.min(this.weight + this.background, this.capacity) * dt;
      this.last_us = now_us;
    }
  }

  setBackground(w: number, now_us: number): void {
    if (!(w >= 0)) throw new RangeError(`PsServer: background weight must be ≥ 0, got ${w}`);
    if (w === this.background) return;
    this.advance(now_us);
    this.background = w;
    this.version++;
  }

  add(t: Task, now_us: number): void {
    this.advance(now_us);
    t.finish_v = this.v + t.work_us / t.weight;
    this.weight += t.weight;
    this.heap.push(t);
    this.version++;
  }

  remove(t: Task, now_us: number): void {
    if (t.heap_i < 0) return;
    this.advance(now_us);
    // Remaining work, so the task can move elsewhere and carry on.
    t.work_us = Math.max(0, (t.finish_v - this.v) * t.weight);
    this.heap.removeAt(t.heap_i);
    t.heap_i = -1;
    this.weight -= t.weight;
    if (this.heap.size === 0) this.weight = 0; // no float residue when empty
    this.version++;
  }

  /** Scale a queued task's remaining work (a fragment turning slow). */
  scale(t: Task, factor: number, now_us: number): void {
    if (t.heap_i < 0) return;
    this.remove(t, now_us);
    t.work_us *= factor;
    this.add(t, now_us);
  }

  setCapacity(c: number, now_us: number): void {
    this.advance(now_us);
    this.capacity = c;
    this.version++;
  }

  setStall(s: number, now_us: number): void {
    if (s === this.stall) return;
    this.advance(now_us);
    this.stall = s;
    this.version++;
  }

  /** When the next task finishes at the current rates, or undefined (empty or stalled). */
  nextFinish_us(now_us: number): number | undefined {
    const top = this.heap.peek();
    const r = this.rate();
    if (!top || r <= 0) return undefined;
    this.advance(now_us);
    return now_us + Math.max(0, Math.ceil((top.finish_v - this.v) / r));
  }

  /** Pop every task whose finish time has come (after advance). */
  popFinished(now_us: number): Task[] {
    this.advance(now_us);
    const out: Task[] = [];
    // A tolerance of one virtual µs absorbs the rounding of the scheduled instant.
    const due_v = this.v + 1e-6 * Math.max(1, this.v) + 1;
    for (let t = this.heap.peek(); t !== undefined && t.finish_v <= due_v; t = this.heap.peek()) {
      this.heap.pop();
      t.heap_i = -1;
      this.weight -= t.weight;
      t.work_us = 0;
      out.push(t);
    }
    if (this.heap.size === 0) this.weight = 0;
    if (out.length) this.version++;
    return out;
  }
}

export interface NodeState {
  id: number;
  index: number;
  cpu: PsServer;
  online: Set<number>;
  mem_cap_kb: number;
  /** Everything resident on the node: fragments, their requests, background memory, neighbours. */
  mem_used_kb: number;
  /** Tasks of this node in the I/O phase (they are in iowait). */
  io_tasks: number;
  /** A neighbour's tasks blocked on I/O here (also load on the shared device). */
  bg_io: number;
  /** A neighbour's own memory stall (some, full), as recorded: it shows in the node's memory PSI but slows only the neighbour. */
  bg_mem_some: number;
  bg_mem_full: number;
}

export interface StallFractions {
  cpu_some: number;
  cpu_full: number;
  mem_some: number;
  mem_full: number;
  io_some: number;
  io_full: number;
}

export class Host {
  readonly nodes: NodeState[];
  readonly io: PsServer;

  constructor(
    readonly topo: Topology,
    io_parallelism: number,
    background_kb: number,
  ) {
    this.nodes = topo.nodes.map((n) => ({
      id: n.id,
      index: n.index,
      cpu: new PsServer(n.allowed_cpus.length),
      online: new Set(n.allowed_cpus),
      mem_cap_kb: n.memory_kb,
      mem_used_kb: n.cpus.length || n.memory_kb ? background_kb : 0,
      io_tasks: 0,
      bg_io: 0,
      bg_mem_some: 0,
      bg_mem_full: 0,
    }));
    this.io = new PsServer(io_parallelism);
  }

  node(id: number): NodeState {
    const n = this.topo.byId.get(id);
    if (!n) throw new Error(`sim: unknown node ${id}`);
    return this.nodes[n.index] as NodeState;
  }

  /** Slowdown of work with data on `home` running on `node`. */
  remoteFactor(home: number | undefined, node: number, memory_intensity: number): number {
    if (home === undefined || home === node) return 1;
    const h = this.topo.byId.get(home),
      n = this.topo.byId.get(node);
    if (!h || !n) return 1;
    const local = h.distances[h.index] as number;
    return 1 + memory_intensity * ((h.distances[n.index] as number) / local - 1);
  }

  /** The PSI stall fractions of one node now (see psi.ts for the kernel's meaning). */
  nodeStall(n: NodeState): StallFractions {
    const c = n.cpu.capacity;
    const k = n.cpu.weight + n.cpu.background;
    const io = n.io_tasks + n.bg_io;
    // psi.c's rule for balanced load (psi.ts); work stranded on a node whose CPUs all went
    // offline cannot run at all, which this twin counts as a full stall.
    const cpu_some = k <= 0 ? 0 : c <= 0 ? 1 : cpuStall(k, c).some;
    // Thrashing stalls every task on the node; a neighbour's own memory stall is independent of
    // it, so the node is stalled when either is (1 − both free).
    const s = k > 0 || io > 0 ? n.cpu.stall : 0;
    // A neighbour spread over several nodes brings fractional task counts: a fraction of a blocked
    // task is the share of time one is blocked, and io full needs no task running meanwhile.
    const noneRunning = n.cpu.weight > 0 ? 0 : Math.max(0, 1 - n.cpu.background);
    return {
      cpu_some,
      cpu_full: 0,
      mem_some: 1 - (1 - s) * (1 - n.bg_mem_some),
      mem_full: 1 - (1 - s) * (1 - n.bg_mem_full),
      io_some: Math.min(1, io),
      io_full: Math.min(1, io) * noneRunning,
    };
  }

  /**
   * Non-idle weight of a node for the system-wide aggregate: busy CPUs, and tasks waiting on I/O or
   * stalled on memory (psi.c counts a CPU non-idle while it holds any running, iowait or memstall
   * task) — a neighbour's memory stall is the share of time one of its tasks is memory-stalled.
   */
  nodeWeight(n: NodeState): number {
    const waiting = n.io_tasks + n.bg_io + n.bg_mem_some;
    return (
      Math.min(n.cpu.capacity, n.cpu.weight + n.cpu.background + waiting) || (waiting > 0 ? Math.min(1, waiting) : 0)
    );
  }
}
