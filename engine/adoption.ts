/**
 * Adoption: the engine's side of adopt mode (like numad). The shell finds running processes that
 * match its selectors and hands each in once; the engine places it as a fragment of its profile
 * (a `pin` command), forgets it when the shell reports it gone, and re-places adopted processes at
 * each scaling cycle when a node lost its CPUs or the nodes' loads drifted apart (`migrate`).
 *
 * Adopted fragments are not the engine's to start, stop, restart or heal: the operator launched
 * them. They hold their profile's reservation for as long as they live, so pool fragments and
 * requests see the room they take.
 */
import { profileOf } from './config.ts';
import { summariseExclusions, type DecisionDraft } from './decision.ts';
import type { PoolLifecycle } from './lifecycle.ts';
import { neverFits, NONE_WARM, selectNode, sharedCpusFor, type Demand } from './placement.ts';
import type { Fragment } from './pools.ts';
import type { Command, Decision, NodeScore, Observation } from './types.ts';
import { figure } from './round.ts';

/** One running process to adopt. */
export interface Adoption {
  /** Stable id chosen by the shell (e.g. `pid1234`); must not end in `-<digits>` (pool ids do). */
  id: string;
  profile: string;
  /** Node holding most of the process's memory now, for the locality score. */
  memory_home?: number;
  /** Placement the process already has (re-adoption after an agent restart): kept when still valid. */
  at?: { node: number; cpus: number[] };
}

const ID_RE = /^[A-Za-z0-9_.:@]{1,64}$/;

export class Adopter {
  /** When each adopted fragment was last moved, for the rebalance cooldown. */
  private readonly movedAt = new Map<string, number>();

  constructor(private readonly life: PoolLifecycle) {}

  /** Place a running process. `base` is the decision's fixed part, built by the orchestrator. */
  adopt(a: Adoption, obs: Observation, finish: (d: DecisionDraft) => Decision): Decision {
    const life = this.life;
    if (!ID_RE.test(a.id))
      throw new Error(
        `adoption id ${JSON.stringify(a.id)}: 1–64 of A–Z a–z 0–9 _ . : @ (no '-', which pool fragment ids use)`,
      );
    if (life.pools.get(a.id)) throw new Error(`fragment ${a.id} exists already`);
    const profile = profileOf(life.cfg, a.profile);
    const pool = life.pools.pool(a.profile);
    const exclusive = profile.exclusive_cpus;
    const demand: Demand = {
      profile: a.profile,
      cpus: profile.cpus,
      memory_kb: profile.memory_kb,
      exclusive_cpus: exclusive,
      memory_home: a.memory_home,
    };
    const scores = life.score(demand, profile, NONE_WARM);
    const kept = a.at && this.stillValid(a.at, exclusive, scores);
    const node = kept ? (a.at as { node: number }).node : selectNode(scores, life.cfg.placement, life.streams)?.node;
    if (node === undefined) {
      const never = neverFits(demand, profile, life.ledger);
      const reason = never
        ? `cannot fit on any node: ${never}`
        : `no node has room now: ${summariseExclusions(scores)}`;
      return finish({ action: 'reject', reason: `adopt ${a.id}: ${reason}`, confidence: 1, scores, commands: [] });
    }
    const f = life.pools.create(a.profile, node, sharedCpusFor(node, profile, life.ledger), obs.t_ms, a.id);
    life.pools.transition(f, 'active');
    const commands: Command[] = [];
    if (exclusive > 0) {
      // Re-adoption asks for the CPUs it had first, so a restart does not reshuffle pinned processes.
      f.exclusive_cpus = life.ledger.takeExclusive(
        node,
        exclusive,
        kept ? (a.at as { cpus: number[] }).cpus : profile.cpu_affinity,
      );
      f.cpus = f.exclusive_cpus;
    }
    life.pools.setReservation(f, exclusive > 0 ? 0 : profile.cpus, profile.memory_kb);
    commands.push({
      type: 'pin',
      fragment: f.id,
      node,
      cpus: f.cpus,
      reason: kept ? 're-adopted where its cgroup had it' : `adopted: node ${node} scored best`,
    });
    if (exclusive > 0) commands.push(...life.repinShared(node, f.id, 'shared CPUs shrank: exclusive CPUs taken'));
    const score = scores.find((s) => s.node === node) as NodeScore;
    return finish({
      action: 'place',
      node,
      cpus: f.cpus,
      exclusive: exclusive > 0,
      fragment: f.id,
      reason: `${kept ? 're-adopted' : 'adopted'} ${a.id} on node ${node} (score ${score.total})${pool.size > 1 ? `; ${pool.size} adopted of ${a.profile}` : ''}`,
      confidence: 1,
      scores,
      commands,
    });
  }

  /** The kept placement must name an eligible node and, for exclusive CPUs, free CPUs of it. */
  private stillValid(at: { node: number; cpus: number[] }, exclusive: number, scores: readonly NodeScore[]): boolean {
    if (!scores.some((s) => s.node === at.node && s.eligible)) return false;
    if (exclusive === 0) return true;
    const shared = new Set(this.life.ledger.sharedCpus(at.node));
    return at.cpus.length === exclusive && at.cpus.every((c) => shared.has(c));
  }

  /** The process is gone: free what it held. Nothing is retried or healed. */
  release(f: Fragment, reason: string): Command[] {
    const life = this.life;
    const hadExclusive = f.exclusive_cpus.length > 0;
    life.pools.transition(f, 'stopped');
    this.movedAt.delete(f.id);
    const out: Command[] = [];
    if (hadExclusive) out.push(...life.repinShared(f.node, undefined, `shared CPUs grew: ${f.id} ${reason}`));
    return out;
  }

  /**
   * Re-place adopted processes: first those on a node with no usable CPU left, then — while the
   * busiest and the idlest node differ by more than the configured gap — one shared process at a
   * time from the busiest to the idlest node, if the move narrows the gap.
   */
  rebalance(t_ms: number): Command[] {
    const life = this.life;
    const rb = life.cfg.placement.rebalance;
    const adopted = [...life.pools.fragments()]
      .filter((f) => f.adopted && f.state === 'active')
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    if (adopted.length === 0) return [];
    const out: Command[] = [];
    for (const f of adopted) {
      if (life.ledger.usableCpus(f.node).length > 0) continue;
      const to = this.bestOther(f);
      if (to !== undefined) out.push(this.move(f, to, t_ms, `node ${f.node} has no usable CPU left`));
    }
    for (let moves = 0; moves < rb.max_moves; moves++) {
      const loads = life.topo.nodes
        .filter((n) => life.ledger.usableCpus(n.id).length > 0)
        .map((n) => ({ node: n.id, load: life.ledger.cpuLoad(n.id) }));
      if (loads.length < 2) break;
      loads.sort((a, b) => b.load - a.load || a.node - b.node);
      const busy = loads[0] as { node: number; load: number },
        idle = loads[loads.length - 1] as { node: number; load: number };
      const gap = busy.load - idle.load;
      if (gap <= rb.gap) break;
      const cand = adopted.find(
        (f) =>
          f.node === busy.node &&
          f.exclusive_cpus.length === 0 &&
          f.res_cpu > 0 &&
          t_ms - (this.movedAt.get(f.id) ?? -Infinity) >= rb.cooldown_ms,
      );
      if (!cand) break;
      // Moving `res_cpu` shifts res_cpu/|usable| of load from one node to the other.
      const shift = (n: number) => cand.res_cpu / Math.max(1, life.ledger.usableCpus(n).length);
      if (Math.abs(busy.load - shift(busy.node) - (idle.load + shift(idle.node))) >= gap) break;
      if (life.ledger.memFree_kb(idle.node) < cand.res_mem_kb) break;
      out.push(
        this.move(
          cand,
          idle.node,
          t_ms,
          `load ${figure(busy.load)} on node ${busy.node} vs ${figure(idle.load)} on node ${idle.node} (gap > ${rb.gap})`,
        ),
      );
    }
    return out;
  }

  private bestOther(f: Fragment): number | undefined {
    const life = this.life;
    const profile = life.pools.pool(f.profile).cfg;
    const allowed = life.topo.nodes.map((n) => n.id).filter((id) => id !== f.node);
    const demand: Demand = {
      profile: f.profile,
      cpus: f.res_cpu,
      memory_kb: f.res_mem_kb,
      exclusive_cpus: f.exclusive_cpus.length,
      allowed_nodes: allowed,
    };
    const scores = life.score(demand, profile, NONE_WARM);
    return selectNode(scores, life.cfg.placement, life.streams)?.node;
  }

  private move(f: Fragment, to: number, t_ms: number, why: string): Command {
    const life = this.life;
    const from = f.node;
    const k = f.exclusive_cpus.length;
    if (k) {
      life.ledger.releaseExclusive(from, f.exclusive_cpus);
      f.exclusive_cpus = [];
    }
    life.pools.moveNode(f, to, sharedCpusFor(to, life.pools.pool(f.profile).cfg, life.ledger));
    if (k) f.cpus = f.exclusive_cpus = life.ledger.takeExclusive(to, k, life.pools.pool(f.profile).cfg.cpu_affinity);
    this.movedAt.set(f.id, t_ms);
    return { type: 'migrate', fragment: f.id, from, to, cpus: f.cpus, reason: `re-place: ${why}` };
  }
}
