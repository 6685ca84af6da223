/**
 * Scaling: how big a pool should be, from a demand prediction that the shell computed (the engine
 * never runs a model). The design's rule: go to the recommended size, but do not grow while cpu
 * pressure is above medium, and shrink by one while memory pressure is above medium; the pool's
 * min and max always hold (a pool below min is refilled even under pressure — min is a promise).
 */
import type { Config } from './config.ts';
import type { PressureValues } from './admission.ts';
import type { FragmentGraph } from './graph.ts';
import type { PoolLifecycle } from './lifecycle.ts';
import type { Fragment, Pool } from './pools.ts';
import type { Command, Prediction } from './types.ts';
import { poissonQuantile, PoolDemand } from './warmth.ts';
import { figure } from './round.ts';

export type ScalingAction = 'up' | 'down' | 'none';
export type Urgency = 'none' | 'low' | 'medium' | 'high';

export interface ScalingDecision {
  profile: string;
  action: ScalingAction;
  current: number;
  target: number;
  confidence: number;
  urgency: Urgency;
  reason: string;
}

export interface PoolShape {
  profile: string;
  size: number;
  warm: number;
  min: number;
  max: number;
  /** Configured target, used when no prediction is given. */
  target: number;
}

export function decideScaling(
  pool: PoolShape,
  prediction: Prediction | undefined,
  p: PressureValues,
  t: Config['pressure']['thresholds'],
): ScalingDecision {
  const current = pool.size;
  const notes: string[] = [];
  let target = prediction ? prediction.recommended_size : pool.target;
  notes.push(
    prediction
      ? `predicted ${figure(prediction.demand_per_s)}/s asks for ${prediction.recommended_size}`
      : `configured target ${pool.target}`,
  );
  if (p.cpu > t.cpu.medium && target > current) {
    target = current;
    notes.push(`cpu pressure ${figure(p.cpu)} > medium ${t.cpu.medium}: no growth`);
  }
  if (p.memory > t.memory.medium && target > current - 1) {
    target = current - 1;
    notes.push(`memory pressure ${figure(p.memory)} > medium ${t.memory.medium}: shrink by one`);
  }
  const clamped = Math.min(pool.max, Math.max(pool.min, target));
  if (clamped !== target) notes.push(`held within min ${pool.min} / max ${pool.max}`);
  target = clamped;

  const diff = target - current;
  const action: ScalingAction = diff > 0 ? 'up' : diff < 0 ? 'down' : 'none';
  let urgency: Urgency = 'none';
  if (action === 'down') urgency = 'low';
  if (action === 'up') {
    // Nothing warm and work expected (or the pool below its promised minimum): every arrival now cold-starts.
    const starving = pool.warm === 0 && ((prediction?.demand_per_s ?? 0) > 0 || current < pool.min);
    urgency = starving ? 'high' : diff >= Math.max(1, current / 2) ? 'medium' : 'low';
  }
  return {
    profile: pool.profile,
    action,
    current,
    target,
    confidence: prediction ? prediction.confidence : 1,
    urgency,
    reason: `${notes.join('; ')}: ${current} → ${target}`,
  };
}

/**
 * The scaling cycle, once per `scaling.interval_ms`: every pool (and every profile a prediction
 * names) is sized by `decideScaling`, then grown with warm fragments placed by their footprint or
 * shrunk from its fullest node. The latest prediction per profile is kept between cycles.
 */
/** A node's scale-down candidates, least recently used first, with their places in the pool's LRU order. */
interface IdleOnNode {
  node: number;
  idle: Fragment[];
  order: number[];
  head: number;
}

export class Scaler {
  private readonly predictions = new Map<string, Prediction>();
  private readonly demands = new Map<string, PoolDemand>();
  private next_ms: number | undefined;
  /** The last cycle's decisions, for status and explanation. */
  last: ScalingDecision[] = [];

  /**
   * `graph`: the fragment graph while its terms are on, else undefined. `underRepair`: is the
   * fragment under repair (the healer's incidents)? Such a fragment is not scaled away.
   */
  constructor(
    private readonly life: PoolLifecycle,
    private readonly graph: FragmentGraph | undefined,
    private readonly underRepair: (f: Fragment) => boolean,
  ) {}

  predicted(predictions: readonly Prediction[]): void {
    for (const pr of predictions) this.predictions.set(pr.profile, pr);
  }

  /** Is a cycle due at t? (The first tick always runs one.) Marks it done. */
  due(t_ms: number): boolean {
    if (this.next_ms !== undefined && t_ms < this.next_ms) return false;
    this.next_ms = t_ms + this.life.cfg.scaling.interval_ms;
    return true;
  }

  /** What the engine measures of a pool's demand (warmth.ts), kept across cycles. */
  demand(profile: string): PoolDemand {
    let d = this.demands.get(profile);
    if (!d) this.demands.set(profile, (d = new PoolDemand()));
    return d;
  }

  /**
   * Each pool's size: the 99.9th percentile of the concurrency its demand brings (the highest of
   * the forecast — its P90 when the predictor gives one — and the rates measured in the last 5 minutes, × its measured time in service;
   * warmth.ts) — the
   * configured target while no demand is seen — at least one ahead of a timer's next call; then decideScaling's
   * pressure rules and bounds. Growth is immediate; shrinking stops only fragments idle longer
   * than the pool's hold (the hysteresis), so a dip in demand does not cost the warm fragments the
   * next rise needs. `p` is the pressure holding back would relieve (fgo's own), not all of it.
   */
  cycle(t_ms: number, p: PressureValues): Command[] {
    const life = this.life;
    const names = [
      ...new Set([...life.pools.pools.keys(), ...this.predictions.keys(), ...(this.graph?.order ?? [])]),
    ].sort();
    const commands: Command[] = [];
    const interval_ms = life.cfg.scaling.interval_ms;
    this.last = [];
    const rates = new Map<string, number>();
    for (const name of names) {
      life.pools.pool(name).sampleThroughput(t_ms);
      const demand = this.demand(name);
      demand.measure(t_ms);
      const forecast = this.predictions.get(name);
      rates.set(name, Math.max(forecast?.demand_p90_per_s ?? forecast?.demand_per_s ?? 0, demand.peak_per_s));
    }
    // Demand flows down the fragment graph: a callee is sized for its callers' rates × their calls,
    // so a rise forecast at a root warms its whole subtree before the calls arrive (graph.ts).
    const flowed = this.graph ? this.graph.flow(rates) : rates;
    for (const name of names) {
      const pool = life.pools.pool(name);
      const c = pool.cfg;
      const demand = this.demand(name);
      const forecast = this.predictions.get(name);
      const rate = flowed.get(name) as number;
      const inService_ms = (pool.service_ms ?? c.service_ms) + c.warm_start_ms;
      // Each node covers the requests whose data it holds, anywhere covers the rest; demand
      // measured or forecast replaces the configured target, as a prediction always has.
      const perNode = new Map<number, number>();
      let spread = 0;
      for (const [home, share] of demand.homeShares()) {
        const k = poissonQuantile((rate * share * inService_ms) / 1000, life.cfg.scaling.cover);
        if (home === undefined || !life.topo.byId.has(home)) spread += k;
        else perNode.set(home, k);
      }
      // Never fewer than were busy at once in the last 10 minutes: a burst's own slowdown makes it
      // need more than its rate × the quiet-time service time.
      let want =
        rate > 0 ? Math.max(demand.peakBusy, spread + [...perNode.values()].reduce((a, b) => a + b, 0)) : pool.target;
      const due = demand.nextDue_ms();
      const lead_ms = interval_ms + c.cold_start_ms;
      if (due !== undefined && due >= t_ms && due - t_ms <= lead_ms) want = Math.max(want, 1);
      const period = demand.period_ms();
      const hold = demand.hold_ms(period !== undefined && period > 2 * lead_ms);
      // No demand seen or forecast, and nothing beyond the configured target: the pool is at its configured size.
      const sized: Prediction | undefined =
        rate > 0 || want !== pool.target
          ? { profile: name, demand_per_s: rate, recommended_size: want, confidence: forecast?.confidence ?? 1 }
          : undefined;
      const d = decideScaling(
        {
          profile: name,
          size: pool.size,
          warm: pool.count.warm,
          min: c.pool.min,
          max: c.pool.max,
          target: pool.target,
        },
        sized,
        p,
        life.cfg.pressure.thresholds,
      );
      this.last.push(d);
      pool.wanted = d.target;
      if (d.action === 'up')
        commands.push(
          ...life.startWarm(pool, d.target - d.current, `scale up (${d.urgency}): ${d.reason}`, undefined, perNode),
        );
      if (d.action === 'down')
        commands.push(
          ...this.shrink(
            pool,
            d.current - d.target,
            `scale down: ${d.reason} (idle ≥ ${Math.round(hold / 1000)} s)`,
            t_ms - hold,
            perNode,
          ),
        );
    }
    return commands;
  }

  /**
   * Stop up to `n` idle fragments of a pool unused since `idleBefore_ms`, each from the node with
   * most beyond its share of the pool (`want`: the fragments each node should hold for the data on
   * it), then the fullest (its least recently used there), so the pool stays spread as
   * `placeFootprint` laid it out. Fragments under repair stay until their incident closes: removing
   * them would hide the outcome.
   */
  private shrink(
    pool: Pool,
    n: number,
    reason: string,
    idleBefore_ms: number,
    want: ReadonlyMap<number, number>,
  ): Command[] {
    const out: Command[] = [];
    const surplus = (node: number) => pool.liveOn(node) - (want.get(node) ?? 0);
    // Each node's candidates in LRU order. The rule (most surplus, then fullest node; its least
    // recently used first) ranks nodes, not fragments, so each pick compares the nodes' heads
    // rather than every candidate: the earliest head wins a tie, as the earliest candidate would.
    const queues = new Map<number, IdleOnNode>();
    let order = 0;
    for (const f of pool.warmLru()) {
      if (f.last_used_ms > idleBefore_ms || this.underRepair(f)) continue;
      let q = queues.get(f.node);
      if (!q) queues.set(f.node, (q = { node: f.node, idle: [], order: [], head: 0 }));
      q.idle.push(f);
      q.order.push(order++);
    }
    const nodes = [...queues.values()];
    for (let k = 0; k < n && nodes.length; k++) {
      let at = 0;
      for (let i = 1; i < nodes.length; i++) {
        const a = nodes[i] as IdleOnNode,
          b = nodes[at] as IdleOnNode;
        const sa = surplus(a.node),
          sb = surplus(b.node),
          la = pool.liveOn(a.node),
          lb = pool.liveOn(b.node);
        if (
          sa > sb ||
          (sa === sb && (la > lb || (la === lb && (a.order[a.head] as number) < (b.order[b.head] as number))))
        )
          at = i;
      }
      const q = nodes[at] as IdleOnNode;
      const f = q.idle[q.head++] as Fragment;
      if (q.head === q.idle.length) nodes.splice(at, 1);
      // Stopping takes f out of its node's live count, which the next pick reads.
      out.push(this.life.stop(f, reason));
    }
    return out;
  }
}
