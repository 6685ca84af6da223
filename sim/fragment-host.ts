/**
 * The simulated host with fgo's fragments on it, and nothing of a policy: what running a request's
 * work does to a node (memory, a task on its CPUs or the shared I/O device, the next completion),
 * warm fragments' idle memory, and what happens to a node from outside — a neighbour's load, CPUs
 * going offline, a fragment hanging, slowing down or leaking. The shell (shell.ts) builds on it:
 * everything a policy is asked or commands is there.
 */
import type { Observation } from '../engine/index.ts';
import type { NeighbourLoad } from './background.ts';
import type { EventQueue } from './events.ts';
import { extraMem_kb, task, type SimFragment, type SimRequest } from './fragment.ts';
import type { Host, NodeState } from './host.ts';
import type { Metrics } from './metrics.ts';
import { Sampler, type PsiTraceSource } from './sampler.ts';
import { thrashStall } from './thrash.ts';

export abstract class FragmentHost {
  readonly host: Host;
  readonly frags = new Map<string, SimFragment>();
  /** Warm fragments with nothing to do (for warm_idle_gb_s), and leaking ones: kept as sets so a tick costs O(these), not O(all fragments). */
  protected readonly idle = new Set<SimFragment>();
  protected readonly leaking = new Set<SimFragment>();
  protected readonly sampler: Sampler;
  /** Memory a neighbour holds on each node now (so a change adds only the difference). */
  private readonly neighbourMem_kb = new Map<number, number>();

  constructor(
    readonly q: EventQueue,
    readonly metrics: Metrics,
    host: Host,
    health_interval_ms: number,
    psiTrace?: PsiTraceSource,
  ) {
    this.host = host;
    this.sampler = new Sampler(host, this.frags, health_interval_ms, psiTrace);
  }

  /** The request's own work is done (the shell decides what follows: its calls, its end). */
  protected abstract workDone(f: SimFragment, sr: SimRequest): void;

  /** The current sample with this instant's time: what a decision between samples sees. */
  obs(): Observation {
    return this.sampler.at(this.q.now_us);
  }

  /** Re-derive a node's stall after any change on it, and schedule its next completion. */
  changed(n: NodeState): void {
    const now = this.q.now_us;
    n.cpu.setStall(thrashStall(n.mem_used_kb, n.mem_cap_kb), now);
    this.sampler.nodeChanged(n, now);
    const t = n.cpu.nextFinish_us(now);
    if (t === undefined) return;
    const v = n.cpu.version;
    this.q.at(t, () => {
      if (n.cpu.version !== v) return; // superseded by a later change
      for (const task of n.cpu.popFinished(this.q.now_us)) task.done();
      this.changed(n);
    });
  }

  protected ioChanged(): void {
    const now = this.q.now_us;
    const t = this.host.io.nextFinish_us(now);
    if (t === undefined) return;
    const v = this.host.io.version;
    this.q.at(t, () => {
      if (this.host.io.version !== v) return;
      for (const task of this.host.io.popFinished(this.q.now_us)) task.done();
      this.ioChanged();
    });
  }

  /** Start a request's CPU phase on its fragment (if the fragment is still its, alive and not hung). */
  protected begin(f: SimFragment, sr: SimRequest): void {
    if (f.request !== sr || f.state !== 'ready' || f.hung_since_us !== undefined || f.phase !== 'idle') return;
    sr.attempt++;
    if (sr.call) this.metrics.call(sr.call.parent.req.profile, sr.req.profile, sr.call.from_node !== f.node);
    const n = this.host.node(f.node);
    const factor = this.host.remoteFactor(sr.home, f.node, sr.profile.memory_intensity);
    this.metrics.recordAccess(sr.cpu_ms, sr.home === undefined || sr.home === f.node);
    n.mem_used_kb += extraMem_kb(f, sr);
    f.phase = 'cpu';
    f.task = task(Math.max(1, sr.cpu_ms * 1000 * factor * f.slow), sr.req.cpus, () => this.endCpu(f, sr));
    n.cpu.add(f.task, this.q.now_us);
    this.changed(n);
  }

  protected endCpu(f: SimFragment, sr: SimRequest): void {
    const n = this.host.node(f.node);
    if (sr.io_ms <= 0) return this.workDone(f, sr);
    f.phase = 'io';
    n.io_tasks++;
    f.task = task(sr.io_ms * 1000, 1, () => {
      this.host.node(f.node).io_tasks--;
      this.workDone(f, sr);
      this.changed(this.host.node(f.node));
    });
    this.host.io.add(f.task, this.q.now_us);
    this.ioChanged();
  }

  /** Take a fragment's running task off whatever server it is on (it was lost or moves). */
  protected detach(f: SimFragment): void {
    const t = f.task;
    if (f.phase === 'calls') {
      // Waiting on its calls, it holds its working memory but no task; their answers will find it gone.
      const n = this.host.node(f.node);
      if (f.request) n.mem_used_kb -= extraMem_kb(f, f.request);
      f.phase = 'idle';
      this.changed(n);
      return;
    }
    if (!t) return;
    const n = this.host.node(f.node);
    if (f.phase === 'cpu') {
      n.cpu.remove(t, this.q.now_us);
      if (f.request) n.mem_used_kb -= extraMem_kb(f, f.request);
    } else if (f.phase === 'io') {
      this.host.io.remove(t, this.q.now_us);
      n.io_tasks--;
      if (f.request) n.mem_used_kb -= extraMem_kb(f, f.request);
      this.ioChanged();
    }
    f.task = undefined;
    f.phase = 'idle';
    this.changed(n);
  }

  /** Keep the idle set in step with a fragment's state: ready with no request is idle warm memory. */
  protected track(f: SimFragment): void {
    const idle = f.state === 'ready' && !f.request;
    if (idle === this.idle.has(f)) return;
    if (idle) {
      f.idle_since_us = this.q.now_us;
      this.idle.add(f);
    } else {
      this.metrics.warm_idle_kb_us += f.mem_kb * (this.q.now_us - Math.max(f.idle_since_us, this.sampler.lastTick_us));
      this.idle.delete(f);
    }
  }

  /** A fragment waiting on its calls moves: its memory goes with it, and it goes on waiting there. */
  protected moveWaiting(f: SimFragment, from_id: number, to_id: number): void {
    const from = this.host.node(from_id),
      to = this.host.node(to_id);
    const kb = f.mem_kb + f.leaked_kb + (f.request ? extraMem_kb(f, f.request) : 0);
    from.mem_used_kb -= kb;
    to.mem_used_kb += kb;
    f.node = to_id;
    this.changed(from);
    this.changed(to);
  }

  protected grow(f: SimFragment, kb: number): void {
    f.leaked_kb += kb;
    const n = this.host.node(f.node);
    n.mem_used_kb += kb;
    this.changed(n);
  }

  // ---- From outside: faults (sim/faults.ts) and a neighbour (sim/background.ts) ----------------

  hang(f: SimFragment): void {
    this.detach(f);
    f.hung_since_us = this.q.now_us;
  }

  slowDown(f: SimFragment, factor: number): void {
    f.slow = factor;
    if (f.task && f.phase === 'cpu') this.host.node(f.node).cpu.scale(f.task, factor, this.q.now_us);
    this.changed(this.host.node(f.node));
  }

  leak(f: SimFragment, kb_per_s: number): void {
    f.leak_kb_per_s = kb_per_s;
    this.leaking.add(f);
  }

  /** A neighbour's load on a node changed (sim/background.ts plays it). */
  setNeighbour(node: number, load: NeighbourLoad): void {
    const n = this.host.node(node);
    const now = this.q.now_us;
    n.mem_used_kb += load.mem_kb - (this.neighbourMem_kb.get(node) ?? 0);
    this.neighbourMem_kb.set(node, load.mem_kb);
    n.bg_mem_some = load.mem_some;
    n.bg_mem_full = load.mem_full;
    n.cpu.setBackground(load.cpu, now);
    if (load.io !== n.bg_io) {
      n.bg_io = load.io;
      this.host.io.setBackground(
        this.host.nodes.reduce((a, x) => a + x.bg_io, 0),
        now,
      );
      this.ioChanged();
    }
    this.changed(n);
  }

  setCpusOnline(node: number, on: boolean): void {
    const n = this.host.node(node);
    const cpus = this.host.topo.byId.get(node)?.allowed_cpus ?? [];
    this.sampler.setOnline(cpus, on);
    n.cpu.setCapacity(on ? cpus.length : 0, this.q.now_us);
    this.changed(n);
  }
}
