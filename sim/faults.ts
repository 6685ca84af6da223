/**
 * Fault injection: crashes, hangs, slow fragments, a node's CPUs going offline and memory leaks,
 * at scheduled instants or at Poisson rates, on targets drawn from a seeded stream. Afterwards
 * each fault is matched with the incident the policy opened for it, which gives detection and
 * recovery instants (MTTD, MTTR, recovery success).
 */
import type { Outage } from '../engine/cascade.ts';
import type { Incident } from '../engine/health.ts';
import type { EventQueue } from './events.ts';
import type { FaultRecord, Metrics } from './metrics.ts';
import type { FaultSpec } from './scenario.ts';
import { parseDuration_s } from '../formats/duration.ts';
import type { SimFragment } from './fragment.ts';
import type { Shell } from './shell.ts';
import { exponential, makeRng, type Rng } from './random.ts';

interface Injected extends FaultRecord {
  /** Fragments the fault hit (for cpu_offline, every fragment on the node then). */
  fragments: string[];
}

const DEFAULT_SLOW = 5;
const DEFAULT_LEAK_MB_S = 20;
const DEFAULT_OUTAGE_S = 60;

export class FaultInjector {
  private readonly rng: Rng;
  private readonly injected: Injected[] = [];

  constructor(
    private readonly q: EventQueue,
    private readonly shell: Shell,
    private readonly metrics: Metrics,
    seed: string | number,
  ) {
    this.rng = makeRng(seed, 'faults');
  }

  schedule(specs: readonly FaultSpec[], end_us: number): void {
    for (const spec of specs) {
      if (spec.at !== undefined) this.q.at(parseDuration_s(spec.at) * 1e6, () => this.inject(spec));
      if (spec.rate_per_h !== undefined) {
        let t_s = 0;
        for (;;) {
          t_s += exponential(this.rng, 3600 / spec.rate_per_h);
          if (t_s * 1e6 >= end_us) break;
          this.q.at(Math.round(t_s * 1e6), () => this.inject(spec));
        }
      }
    }
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length ? xs[Math.floor(this.rng() * xs.length)] : undefined;
  }

  private inject(spec: FaultSpec): void {
    const now = this.q.now_us;
    if (spec.kind === 'cpu_offline') {
      const withCpus = this.shell.host.nodes.filter((n) => n.cpu.capacity > 0);
      const node =
        spec.node !== undefined ? this.shell.host.nodes.find((n) => n.id === spec.node) : this.pick(withCpus);
      if (!node || node.cpu.capacity === 0) return;
      const on = [...this.shell.frags.values()]
        .filter((f) => f.node === node.id && f.state !== 'dead')
        .map((f) => f.id);
      this.shell.setCpusOnline(node.id, false);
      this.record({ kind: spec.kind, target: `node ${node.id}`, injected_us: now, fragments: on });
      if (spec.duration !== undefined)
        this.q.after(parseDuration_s(spec.duration) * 1e6, () => this.shell.setCpusOnline(node.id, true));
      return;
    }
    if (spec.kind === 'outage') {
      const profile = spec.profile as string; // the scenario's check requires it
      const fragments = this.shell.outage(profile, parseDuration_s(spec.duration ?? `${DEFAULT_OUTAGE_S}s`) * 1e6);
      this.record({ kind: spec.kind, target: `profile ${profile}`, injected_us: now, fragments });
      return;
    }
    const healthy = [...this.shell.frags.values()].filter(
      (f) =>
        f.state === 'ready' &&
        f.hung_since_us === undefined &&
        f.slow === 1 &&
        f.leak_kb_per_s === 0 &&
        (!spec.profile || f.profile === spec.profile),
    );
    // Prefer a busy fragment: that is where a fault hurts and must be noticed.
    const busy = healthy.filter((f) => f.request);
    const f: SimFragment | undefined = this.pick(busy.length ? busy : healthy);
    if (!f) return;
    this.record({ kind: spec.kind, target: f.id, injected_us: now, fragments: [f.id] });
    if (spec.kind === 'crash') this.shell.crash(f);
    else if (spec.kind === 'hang') this.shell.hang(f);
    else if (spec.kind === 'slow') this.shell.slowDown(f, spec.factor ?? DEFAULT_SLOW);
    else this.shell.leak(f, (spec.factor ?? DEFAULT_LEAK_MB_S) * 1024);
  }

  private record(r: Injected): void {
    this.injected.push(r);
    this.metrics.faults.push(r);
  }

  /**
   * Match faults with incidents: a fault is detected when the first incident opened at or after
   * its injection for one of its fragments is; recovered when every such incident recovered.
   */
  resolve(incidents: readonly Incident[], outages?: readonly Outage[]): void {
    for (const f of this.injected) {
      // An outage is one incident with one root cause, where the policy knows the graph (cascade.ts).
      if (f.kind === 'outage' && outages) {
        const o = outages
          .filter((x) => `profile ${x.profile}` === f.target && x.detected_ms * 1000 >= f.injected_us - 1000)
          .sort((a, b) => a.detected_ms - b.detected_ms)[0];
        if (o) {
          f.detected_us = Math.max(f.injected_us, o.detected_ms * 1000);
          if (o.recovered_ms !== undefined) f.recovered_us = o.recovered_ms * 1000;
        }
        continue;
      }
      const mine = incidents.filter(
        (i) =>
          f.fragments.includes(i.origin) &&
          i.detected_ms * 1000 >= f.injected_us - 1000 &&
          (f.kind !== 'cpu_offline' || i.symptom === 'node_offline'),
      );
      const first = new Map<string, Incident>();
      for (const i of mine.sort((a, b) => a.detected_ms - b.detected_ms || a.id - b.id))
        if (!first.has(i.origin)) first.set(i.origin, i);
      const found = [...first.values()];
      if (found.length === 0) continue;
      // The engine keeps ms; a detection in the same millisecond as the injection is not before it.
      f.detected_us = Math.max(f.injected_us, Math.min(...found.map((i) => i.detected_ms * 1000)));
      if (found.every((i) => i.recovered_ms !== undefined)) {
        f.recovered_us = Math.max(...found.map((i) => (i.recovered_ms as number) * 1000));
      }
    }
  }
}
