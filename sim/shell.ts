/**
 * The twin as a shell around a policy (the engine, or a baseline): it turns the simulated host
 * into observations, asks the policy, and carries out the commands it gets back — starting,
 * stopping, restarting and moving fragments, running requests on them, retrying and shedding.
 * No policy lives here: every choice of where and whether comes back from the policy.
 *
 * What the policy sees — PSI and node load sampled once per simulated second, handed to every
 * decision until the next sample — is sampler.ts's; the shell tells it when a node changed. What
 * running work does to the host, policy aside, is fragment-host.ts's, which the shell extends.
 */
import type { Command, Decision, Prediction, Request } from '../engine/index.ts';
import type { EnginePort } from '../engine/port.ts';
import type { CallMaker } from './calls.ts';
import type { EventQueue } from './events.ts';
import { extraMem_kb, newFragment, type SimFragment, type SimRequest } from './fragment.ts';
import { FragmentHost } from './fragment-host.ts';
import type { Host } from './host.ts';
import type { Metrics } from './metrics.ts';
import type { PsiTraceSource } from './sampler.ts';
import type { SimProfile } from './scenario.ts';

/**
 * What the twin needs of a policy: the engine's port (engine/port.ts) less adopt mode and the live
 * agent's reads. The Orchestrator implements all of it; a baseline implements the required calls,
 * and `calling`, `incidents` and `outageList` where it has a fragment graph or heals.
 */
export interface Policy
  extends Pick<EnginePort, 'schedule' | 'started' | 'complete' | 'failed' | 'tick'>,
    Partial<Pick<EnginePort, 'calling' | 'incidents' | 'outageList'>> {}

export interface ShellSinks {
  decision(d: Decision): void;
  /** A policy call took this long (wall clock), for the decision-latency figures. */
  timed(ns: bigint): void;
}

type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

export class Shell extends FragmentHost {
  private readonly waiting = new Map<string, SimRequest>();
  /** Profiles in an outage fault, until when (µs): their fragments die as they start. */
  private readonly outages = new Map<string, number>();

  constructor(
    q: EventQueue,
    readonly policy: Policy,
    readonly profiles: ReadonlyMap<string, SimProfile>,
    metrics: Metrics,
    private readonly sinks: ShellSinks,
    host: Host,
    health_interval_ms: number,
    psiTrace?: PsiTraceSource,
    private readonly calls?: CallMaker,
  ) {
    super(q, metrics, host, health_interval_ms, psiTrace);
  }

  private profileOf(name: string): SimProfile {
    return this.profiles.get(name) ?? (this.profiles.get('*') as SimProfile);
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

  /** The request's own work is done: it makes its calls (sim/calls.ts), and ends once its sync ones are answered. */
  protected workDone(f: SimFragment, sr: SimRequest): void {
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

  // ---- Commands ----------------------------------------------------------------------------

  execute(cmds: readonly Command[]): void {
    for (const c of cmds) this.carryOut(c);
  }

  private carryOut(c: Command): void {
    switch (c.type) {
      case 'start':
        return this.startFragment(c);
      case 'restart':
        return this.restartFragment(c.fragment);
      case 'stop':
        return this.stopFragment(c.fragment);
      case 'migrate':
        return this.migrateFragment(c);
      case 'retry':
        return this.retryRequest(c.request);
      case 'shed':
        return this.shedWaiting(c.request_id);
      case 'alert':
        this.metrics.alerts++;
        return;
      case 'pin':
      case 'drain':
      case 'undrain':
        return; // the model does not track CPUs one by one; draining is the policy's bookkeeping
    }
  }

  /** A new process on the command's node, holding its profile's memory, up after its cold start. */
  private startFragment(c: CommandOf<'start'>): void {
    const f = newFragment(c.fragment, c.profile, c.node, this.profileOf(c.profile).memory_mb * 1024, this.q.now_us);
    this.frags.set(f.id, f);
    const n = this.host.node(c.node);
    n.mem_used_kb += f.mem_kb;
    this.changed(n);
    this.startUp(f);
  }

  /** The process starts afresh where it is: its request (if any) is lost, and so is the fault that made it sick. */
  private restartFragment(id: string): void {
    const f = this.frags.get(id);
    if (!f) return;
    this.detach(f);
    f.request = undefined;
    this.grow(f, -f.leaked_kb);
    Object.assign(f, { hung_since_us: undefined, slow: 1, leak_kb_per_s: 0, state: 'starting' });
    this.leaking.delete(f);
    this.track(f);
    this.startUp(f);
  }

  /** The process ends and its memory (leaked included) is freed. */
  private stopFragment(id: string): void {
    const f = this.frags.get(id);
    if (!f) return;
    this.detach(f);
    f.state = 'dead';
    f.epoch++;
    this.frags.delete(f.id);
    this.leaking.delete(f);
    this.track(f);
    const n = this.host.node(f.node);
    n.mem_used_kb -= f.mem_kb + f.leaked_kb;
    this.changed(n);
  }

  /** The process moves with its memory; a running request carries on there, a starting one starts there. */
  private migrateFragment(c: CommandOf<'migrate'>): void {
    const f = this.frags.get(c.fragment);
    if (!f) return;
    if (f.phase === 'calls') return this.moveWaiting(f, c.from, c.to);
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
  }

  /** The request is submitted again, from waiting or from the lost fragment that held it. */
  private retryRequest(r: Request): void {
    const sr = this.waiting.get(r.id) ?? this.orphaned(r);
    if (sr) this.q.after(0, () => this.submit(sr));
  }

  /** A waiting request the policy gives up on: counted as shed (and fails its caller, if one waits on it). */
  private shedWaiting(request_id: string): void {
    const sr = this.waiting.get(request_id);
    if (!sr) return;
    this.waiting.delete(request_id);
    this.drop(sr, 'shed');
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
}
