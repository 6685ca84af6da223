/**
 * The twin as a shell around a policy (the engine, or a baseline): it turns the simulated host
 * into observations, asks the policy, and carries out the commands it gets back — starting,
 * stopping, restarting and moving fragments, running requests on them, retrying and shedding.
 * No policy lives here: every choice of where and whether comes back from the policy.
 *
 * What the policy sees — PSI and node load sampled once per simulated second, handed to every
 * decision until the next sample — is sampler.ts's; the shell tells it when a node changed.
 */
import type { Command, Decision, Observation, Prediction, Request } from '../engine/index.ts';
import type { EnginePort } from '../engine/port.ts';
import type { CallMaker } from './calls.ts';
import type { EventQueue } from './events.ts';
import type { NeighbourLoad } from './background.ts';
import type { Host, NodeState, Task } from './host.ts';
import { thrashStall } from './thrash.ts';
import type { Metrics } from './metrics.ts';
import { Sampler, type PsiTraceSource } from './sampler.ts';
import type { SimProfile } from './scenario.ts';

/**
 * What the twin needs of a policy: the engine's port (engine/port.ts) less adopt mode and the live
 * agent's reads. The Orchestrator implements all of it; a baseline implements the required calls,
 * and `calling`, `incidents` and `outageList` where it has a fragment graph or heals.
 */
export interface Policy
  extends Pick<EnginePort, 'schedule' | 'started' | 'complete' | 'failed' | 'tick'>,
    Partial<Pick<EnginePort, 'calling' | 'incidents' | 'outageList'>> {}

export interface SimRequest {
  req: Request;
  arrival_us: number;
  cpu_ms: number;
  io_ms: number;
  mem_kb: number;
  home: number | undefined;
  profile: SimProfile;
  deferred: boolean;
  cold: boolean;
  /** Times it began on a fragment: an answer to a call made by an earlier attempt is ignored. */
  attempt: number;
  /** Sync calls not yet answered. */
  pending: number;
  /** Completed, shed or failed. */
  done: boolean;
  /** The fragment serving it, once placed. */
  frag?: SimFragment;
  /** For a call (sim/calls.ts): who made it, in which attempt, whether it waits, what it carries. */
  call?: { parent: SimRequest; attempt: number; sync: boolean; bytes: number; from_node: number };
}

export interface SimFragment {
  id: string;
  profile: string;
  node: number;
  state: 'starting' | 'ready' | 'dead';
  /** Bumped on every (re)start or move, so a stale "ready" event is ignored. */
  epoch: number;
  mem_kb: number;
  request: SimRequest | undefined;
  task: Task | undefined;
  /** Where its task is: CPU, I/O, waiting for its sync calls' answers, or nowhere (waiting to begin, or hung). */
  phase: 'cpu' | 'io' | 'calls' | 'idle';
  started_us: number;
  idle_since_us: number;
  // Faults.
  hung_since_us: number | undefined;
  slow: number;
  leak_kb_per_s: number;
  leaked_kb: number;
}

/**
 * Memory a running request adds to its fragment's: a fragment holds max(its own, the request's
 * working set), as the engine books it (placement.ts memoryNeed_kb) — one rule for both.
 */
const extraMem_kb = (f: SimFragment, sr: SimRequest) => Math.max(0, sr.mem_kb - f.mem_kb);

/**
 * A task, its completion passed in: a function written as an object's `done:` property would be
 * renamed by tsx's keepNames on every request (an Object.defineProperty each), an argument is not.
 */
function task(work_us: number, weight: number, done: () => void): Task {
  return { work_us, weight, finish_v: 0, heap_i: -1, done };
}

export interface ShellSinks {
  decision(d: Decision): void;
  /** A policy call took this long (wall clock), for the decision-latency figures. */
  timed(ns: bigint): void;
}

export class Shell {
  readonly host: Host;
  readonly frags = new Map<string, SimFragment>();
  private readonly waiting = new Map<string, SimRequest>();
  /** Warm fragments with nothing to do (for warm_idle_gb_s), and leaking ones: kept as sets so a tick costs O(these), not O(all fragments). */
  private readonly idle = new Set<SimFragment>();
  private readonly leaking = new Set<SimFragment>();
  private readonly sampler: Sampler;
  /** Memory a neighbour holds on each node now (so a change adds only the difference). */
  private readonly neighbourMem_kb = new Map<number, number>();
  /** Profiles in an outage fault, until when (µs): their fragments die as they start. */
  private readonly outages = new Map<string, number>();

  constructor(
    readonly q: EventQueue,
    readonly policy: Policy,
    readonly profiles: ReadonlyMap<string, SimProfile>,
    readonly metrics: Metrics,
    private readonly sinks: ShellSinks,
    host: Host,
    health_interval_ms: number,
    psiTrace?: PsiTraceSource,
    private readonly calls?: CallMaker,
  ) {
    this.host = host;
    this.sampler = new Sampler(host, this.frags, health_interval_ms, psiTrace);
  }

  private profileOf(name: string): SimProfile {
    return this.profiles.get(name) ?? (this.profiles.get('*') as SimProfile);
  }

  /** The current sample with this instant's time: what a decision between samples sees. */
  obs(): Observation {
    return this.sampler.at(this.q.now_us);
  }

  // ---- Node changes and completions --------------------------------------------------------

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

  private ioChanged(): void {
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

  // ---- The agent loop ----------------------------------------------------------------------

  /** Once per simulated second: advance PSI, sample, tick the policy, carry out its commands. */
  tick(predictions: readonly Prediction[] | undefined): void {
    const now = this.q.now_us;
    const last_us = this.sampler.lastTick_us;
    for (const f of this.leaking) this.grow(f, f.leak_kb_per_s * ((now - last_us) / 1e6));
    for (const f of this.idle) this.metrics.warm_idle_kb_us += f.mem_kb * (now - Math.max(f.idle_since_us, last_us));
    const cmds = this.policy.tick({ ...this.sampler.sample(now) }, predictions);
    this.execute(cmds);
  }

  // ---- Requests ----------------------------------------------------------------------------

  submit(sr: SimRequest): void {
    this.waiting.set(sr.req.id, sr);
    const t0 = process.hrtime.bigint();
    const d = this.policy.schedule(sr.req, this.obs());
    this.sinks.timed(process.hrtime.bigint() - t0);
    this.sinks.decision(d);
    if (d.action === 'place') {
      this.metrics.scheduled++;
      if (d.start === 'cold') this.metrics.cold++;
      this.execute(d.commands);
      const f = this.frags.get(d.fragment as string);
      if (!f) throw new Error(`sim: policy placed ${sr.req.id} on unknown fragment ${d.fragment}`);
      this.waiting.delete(sr.req.id);
      f.request = sr;
      sr.frag = f;
      this.track(f);
      sr.cold = d.start === 'cold';
      // A warm fragment begins after its warm-start time (plus any shaping delay); a cold one when it is ready.
      if (f.state === 'ready')
        this.q.after(((d.delay_ms ?? 0) + sr.profile.warm_start_ms) * 1000, () => this.begin(f, sr));
      return;
    }
    if (d.action === 'defer') {
      if (!sr.deferred) this.metrics.deferred++;
      sr.deferred = true;
      this.execute(d.commands);
      return;
    }
    this.waiting.delete(sr.req.id);
    this.drop(sr, d.action === 'shed' ? 'shed' : 'failed');
  }

  /** A request that will not be served: counted, and its caller (if it waits on it) fails with it. */
  private drop(sr: SimRequest, how: 'shed' | 'failed'): void {
    sr.done = true;
    this.metrics.dropped(sr, how);
    const c = sr.call;
    const parent = c?.parent;
    if (!c?.sync || !parent || parent.done || parent.attempt !== c.attempt) return;
    const pf = parent.frag;
    if (!pf || pf.request !== parent || pf.phase !== 'calls') return;
    this.end(pf, parent, { ok: false, dependency: sr.req.profile });
  }

  /** Start a request's CPU phase on its fragment (if the fragment is still its, alive and not hung). */
  private begin(f: SimFragment, sr: SimRequest): void {
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

  private endCpu(f: SimFragment, sr: SimRequest): void {
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

  /** The request's own work is done: it makes its calls (sim/calls.ts), and ends once its sync ones are answered. */
  private workDone(f: SimFragment, sr: SimRequest): void {
    const made = this.calls ? this.calls.make(sr, f, this.q.now_us) : [];
    sr.pending = made.filter((c) => c.call?.sync).length;
    for (const c of made) {
      this.metrics.arrival(c);
      this.q.after(0, () => this.submit(c));
    }
    if (sr.pending === 0) return this.end(f, sr, { ok: true });
    f.phase = 'calls';
    f.task = undefined;
    if (this.policy.calling) this.execute(this.policy.calling(f.id, this.obs()));
  }

  /** A call was answered: after its bytes have crossed back, its caller may end. */
  private answered(sr: SimRequest, node: number): void {
    const c = sr.call;
    const parent = c?.parent;
    if (!c?.sync || !parent) return;
    this.q.after(this.calls ? this.calls.transfer_us(sr, node) : 0, () => {
      const pf = parent.frag;
      if (parent.done || parent.attempt !== c.attempt || !pf || pf.request !== parent || pf.phase !== 'calls') return;
      if (--parent.pending === 0) this.end(pf, parent, { ok: true });
    });
  }

  /** The request is over on its fragment: completed, or failed by a call it waited on. */
  private end(f: SimFragment, sr: SimRequest, o: { ok: true } | { ok: false; dependency: string }): void {
    const n = this.host.node(f.node);
    n.mem_used_kb -= extraMem_kb(f, sr);
    f.phase = 'idle';
    f.task = undefined;
    f.request = undefined;
    this.track(f);
    const latency_us = this.q.now_us - sr.arrival_us;
    if (o.ok) {
      sr.done = true;
      this.metrics.completion(sr, latency_us);
      this.answered(sr, f.node);
    } else this.drop(sr, 'failed');
    this.execute(
      this.policy.complete(
        f.id,
        { ok: o.ok, latency_ms: latency_us / 1000, ...(o.ok ? {} : { dependency: o.dependency }) },
        this.obs(),
      ),
    );
  }

  /** Requests arrived and not yet completed, shed or failed: waiting, or held by a fragment. */
  *unfinished(): IterableIterator<SimRequest> {
    yield* this.waiting.values();
    for (const f of this.frags.values()) if (f.request && !this.waiting.has(f.request.req.id)) yield f.request;
  }

  /** Take a fragment's running task off whatever server it is on (it was lost or moves). */
  private detach(f: SimFragment): void {
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
  private track(f: SimFragment): void {
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

  // ---- Commands ----------------------------------------------------------------------------

  execute(cmds: readonly Command[]): void {
    for (const c of cmds) {
      switch (c.type) {
        case 'start': {
          const p = this.profileOf(c.profile);
          const f: SimFragment = {
            id: c.fragment,
            profile: c.profile,
            node: c.node,
            state: 'starting',
            epoch: 0,
            mem_kb: p.memory_mb * 1024,
            request: undefined,
            task: undefined,
            phase: 'idle',
            started_us: this.q.now_us,
            idle_since_us: this.q.now_us,
            hung_since_us: undefined,
            slow: 1,
            leak_kb_per_s: 0,
            leaked_kb: 0,
          };
          this.frags.set(f.id, f);
          const n = this.host.node(c.node);
          n.mem_used_kb += f.mem_kb;
          this.changed(n);
          this.startUp(f);
          break;
        }
        case 'restart': {
          const f = this.frags.get(c.fragment);
          if (!f) break;
          this.detach(f);
          f.request = undefined;
          // A fresh process: the fault that made it sick is gone with the old one.
          this.grow(f, -f.leaked_kb);
          Object.assign(f, { hung_since_us: undefined, slow: 1, leak_kb_per_s: 0, state: 'starting' });
          this.leaking.delete(f);
          this.track(f);
          this.startUp(f);
          break;
        }
        case 'stop': {
          const f = this.frags.get(c.fragment);
          if (!f) break;
          this.detach(f);
          f.state = 'dead';
          f.epoch++;
          this.frags.delete(f.id);
          this.leaking.delete(f);
          this.track(f);
          const n = this.host.node(f.node);
          n.mem_used_kb -= f.mem_kb + f.leaked_kb;
          this.changed(n);
          break;
        }
        case 'migrate': {
          const f = this.frags.get(c.fragment);
          if (!f) break;
          if (f.phase === 'calls') {
            this.moveWaiting(f, c.from, c.to);
            break;
          }
          const sr = f.phase !== 'idle' ? f.request : undefined;
          const task = f.task;
          const phase = f.phase;
          this.detach(f);
          const from = this.host.node(c.from),
            to = this.host.node(c.to);
          from.mem_used_kb -= f.mem_kb + f.leaked_kb;
          to.mem_used_kb += f.mem_kb + f.leaked_kb;
          f.node = c.to;
          this.changed(from);
          if (f.state === 'starting')
            this.startUp(f); // restarting on the new node
          else if (sr && task && phase === 'cpu') {
            // The running request moves with its process and carries on.
            to.mem_used_kb += extraMem_kb(f, sr);
            f.phase = 'cpu';
            f.task = task;
            to.cpu.add(task, this.q.now_us);
          } else if (sr && f.state === 'ready') this.begin(f, sr);
          this.changed(to);
          break;
        }
        case 'retry': {
          const sr = this.waiting.get(c.request.id) ?? this.orphaned(c.request);
          if (sr) this.q.after(0, () => this.submit(sr));
          break;
        }
        case 'shed': {
          const sr = this.waiting.get(c.request_id);
          if (sr) {
            this.waiting.delete(c.request_id);
            this.drop(sr, 'shed');
          }
          break;
        }
        case 'alert':
          this.metrics.alerts++;
          break;
        case 'pin':
        case 'drain':
        case 'undrain':
          break; // the model does not track CPUs one by one; draining is the policy's bookkeeping
      }
    }
  }

  /** A fragment waiting on its calls moves: its memory goes with it, and it goes on waiting there. */
  private moveWaiting(f: SimFragment, from_id: number, to_id: number): void {
    const from = this.host.node(from_id),
      to = this.host.node(to_id);
    const kb = f.mem_kb + f.leaked_kb + (f.request ? extraMem_kb(f, f.request) : 0);
    from.mem_used_kb -= kb;
    to.mem_used_kb += kb;
    f.node = to_id;
    this.changed(from);
    this.changed(to);
  }

  /** A request handed back from a lost fragment: find it on the fragment that held it. */
  private orphaned(r: Request): SimRequest | undefined {
    for (const f of this.frags.values()) {
      if (f.request?.req.id === r.id) {
        const sr = f.request;
        this.detach(f);
        f.request = undefined;
        this.track(f);
        return sr;
      }
    }
    return undefined;
  }

  /** Bring a (re)started fragment up after its profile's cold-start time. */
  private startUp(f: SimFragment): void {
    const epoch = ++f.epoch;
    f.started_us = this.q.now_us;
    this.q.after(this.profileOf(f.profile).cold_start_ms * 1000, () => {
      if (f.epoch !== epoch || f.state !== 'starting' || f.hung_since_us !== undefined) return;
      if ((this.outages.get(f.profile) ?? -1) > this.q.now_us)
        return this.crash(f, 'process exited on start (outage fault)');
      f.state = 'ready';
      this.track(f);
      this.execute(this.policy.started(f.id, this.obs()));
      const sr = f.request;
      if (sr && f.phase === 'idle') this.begin(f, sr);
    });
  }

  private grow(f: SimFragment, kb: number): void {
    f.leaked_kb += kb;
    const n = this.host.node(f.node);
    n.mem_used_kb += kb;
    this.changed(n);
  }

  // ---- Faults (sim/faults.ts decides when and whom) ------------------------------------------

  crash(f: SimFragment, reason = 'process exited (fault injection)'): void {
    this.detach(f);
    f.state = 'starting'; // the process is gone; the policy decides what comes next
    f.epoch++;
    this.track(f);
    this.execute(this.policy.failed(f.id, reason, this.obs()));
  }

  /**
   * A whole profile goes down for `duration_us` (a storage tier's disk gone, say): every fragment of
   * it dies now, and every one that starts before the end dies as it comes up.
   */
  outage(profile: string, duration_us: number): string[] {
    this.outages.set(profile, this.q.now_us + duration_us);
    const hit = [...this.frags.values()].filter((f) => f.profile === profile && f.state !== 'dead');
    for (const f of hit) this.crash(f, 'process exited (outage fault)');
    return hit.map((f) => f.id);
  }

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
