/**
 * Adopt mode (like numad): manage processes the operator started. Each scan finds processes that
 * match the config's rules; each is handed to the engine once (`adopt`) and pinned where it says.
 * Each turn checks that managed processes still run (a pidfd, or else pid + start time, so a reused
 * pid is not mistaken for ours) and `release`s those that are gone. `migrate` commands re-place a process and
 * move its memory. Nothing here ever starts, stops or signals a process.
 *
 * What we manage is written to state_dir/fragments.json (atomically) and each process sits in its
 * own cpuset group named after its fragment, so after a crash the next run re-adopts every process
 * where it was, from either record.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Adoption } from '../engine/adoption.ts';
import { nestingTooDeep } from '../formats/json.ts';
import type { Command, Decision, Observation } from '../engine/types.ts';
import type { Answer, Mode, ModeHost } from './mode.ts';
import type { ScheduleBody } from '../serve/schedule-body.ts';
import type { CpusetGroups } from './enforce.ts';
import { parseList } from '../formats/host/files.ts';
import { writeStateFile } from './ownership.ts';
import { ExitWatch } from './pidfd.ts';
import { readNumaMaps } from './proc-pid.ts';
import type { AdoptRule } from './config.ts';
import { compileRules, describeRule, scan, spoofable, stillRunning, type Candidate } from './selectors.ts';

interface Managed {
  fragment: string;
  pid: number;
  starttime: number;
  profile: string;
  node: number;
  cpus: number[];
}

/** Does a process with this pid exist? (kill(pid, 0): no signal is sent; EPERM still means it exists.) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Largest fragments.json read back (10,000 records ≈ 1.5 MB). */
const MAX_STATE_BYTES = 4 * 1024 * 1024;

/** A process the engine would not take, and when to ask again (room may free up). */
const REJECT_RETRY_MS = 60_000;

export class AdoptMode implements Mode {
  private readonly managed = new Map<string, Managed>();
  private readonly rules;
  private readonly rejected = new Map<number, number>();
  private nextScan_ms = 0;
  private readonly stateFile: string;
  /** Adoption → affinity of every thread set (engine call included), ms; the last 1,000. */
  readonly placement_ms: number[] = [];
  /** Adoption → also in its cpuset group, ms; the last 1,000. */
  readonly placement_cgroup_ms: number[] = [];
  private dirty = false;
  /**
   * Adopting a batch (recovery, a scan): the state file is written once after it rather than after
   * each pin — rewriting 1,000 records per adoption made adopting 1,000 processes quadratic. The
   * process's cpuset group, written at its pin, is the record a crash mid-batch recovers from.
   */
  private batching = false;
  /** Exits of managed processes, by fragment, noticed with one poll() per turn (live/pidfd.ts). */
  private readonly exits = new ExitWatch();

  constructor(
    private readonly a: ModeHost,
    private readonly groups: CpusetGroups | undefined,
  ) {
    this.rules = compileRules(a.cfg.adopt.rules);
    this.stateFile = join(a.cfg.state_dir, 'fragments.json');
    a.cfg.adopt.rules.forEach((r, i) => {
      if (spoofable(r))
        a.warn(
          `adopt.rules.${i} (profile ${r.profile}) matches on the command line only: any local user can name a process to match it and be given its CPUs; add uid, exe or cgroup (docs/ownership.md)`,
        );
    });
  }

  recover(obs: Observation): void {
    const found = new Map<number, { node?: number; cpus?: number[]; fragment: string }>();
    for (const r of this.readState()) found.set(r.pid, { node: r.node, cpus: r.cpus, fragment: r.fragment });
    for (const g of this.groups?.list() ?? []) {
      const cpus = parseList(g.cpus);
      for (const pid of g.pids)
        found.set(pid, { ...(cpus.ok ? { cpus: cpus.ids, node: this.nodeOf(cpus.ids) } : {}), fragment: g.name });
    }
    const candidates = new Map(scan(this.a.roots, this.rules, new Set([process.pid])).map((c) => [c.pid, c]));
    let n = 0;
    this.batching = true;
    try {
      for (const [pid, at] of [...found].sort((x, y) => x[0] - y[0])) {
        const c = candidates.get(pid);
        if (!c) continue; // gone, or no longer matches a rule: left alone
        const adoption: Adoption = { id: `pid${pid}`, profile: c.profile };
        if (at.node !== undefined && at.cpus) adoption.at = { node: at.node, cpus: at.cpus };
        if (this.take(adoption, c, obs)) n++;
      }
    } finally {
      this.batching = false;
    }
    // Groups of ours left empty by processes that exited while we were down; others' are not ours to remove.
    const groups = this.groups;
    for (const g of groups?.list() ?? []) {
      if (!groups?.ours(g.path)) this.a.warn(`left alone: cpuset group ${g.path}, not created by fgo`);
      else if (g.pids.length === 0) this.a.removeGroup(g.name, obs.t_ms);
    }
    if (found.size) this.a.log(`re-adopted ${n} of ${found.size} processes recorded by the previous run`);
    this.dirty = true;
    this.save();
  }

  beforeTick(obs: Observation): void {
    const scanning = obs.t_ms >= this.nextScan_ms;
    const exited = new Set(this.exits.exited());
    for (const m of [...this.managed.values()]) {
      // A process with a pidfd is checked by the one poll above (a reused pid cannot fool it). Any
      // other: every turn a signal-0 probe (one syscall) notices exits; at scans the start time is
      // checked too, which also catches a pid reused by another process (reading stat costs ~20 µs each).
      const gone = this.exits.has(m.fragment)
        ? exited.has(m.fragment)
        : !alive(m.pid) || (scanning && !stillRunning(this.a.roots, m.pid, m.starttime));
      if (gone) this.gone(m, 'exited', obs);
    }
    this.save();
    if (!scanning) return;
    this.nextScan_ms = obs.t_ms + this.a.cfg.adopt.scan_interval_ms;
    const exclude = new Set([process.pid, ...[...this.managed.values()].map((m) => m.pid)]);
    for (const [pid, until] of this.rejected) if (until > obs.t_ms) exclude.add(pid);
    this.batching = true;
    try {
      for (const c of scan(this.a.roots, this.rules, exclude))
        this.take({ id: `pid${c.pid}`, profile: c.profile, ...this.home(c.pid) }, c, obs);
    } finally {
      this.batching = false;
    }
    this.save();
  }

  /**
   * Adopt one process and pin it; false when the engine rejected it. Either way one line names
   * the process, the rule that matched and the profile, as numad's log does.
   */
  private take(adoption: Adoption, c: Candidate, obs: Observation): boolean {
    const { pid, starttime } = c;
    const t0 = performance.now();
    let d: Decision | undefined;
    try {
      d = this.a.engine.adopt(adoption, obs);
    } catch {
      d = undefined; // journalled and logged as the call's result
    }
    const who = `pid ${pid} (${c.comm}), matched by adopt.rules.${c.rule} (${describeRule(this.a.cfg.adopt.rules[c.rule] as AdoptRule)}) as profile ${c.profile}`;
    // A placement always names its fragment, node and CPUs (engine/adoption.ts).
    if (d?.action !== 'place' || d.fragment === undefined || d.node === undefined || d.cpus === undefined) {
      this.rejected.set(pid, obs.t_ms + REJECT_RETRY_MS);
      if (d) this.a.log(`not adopted: ${who}: ${d.reason}`);
      return false;
    }
    const { fragment, node, cpus } = d;
    this.a.log(
      `${this.a.executor.enforcing ? 'adopted' : 'dry run: would adopt'} ${who}: node ${node}, cpus ${cpus.join(',')}`,
    );
    this.rejected.delete(pid);
    this.managed.set(fragment, { fragment, pid, starttime, profile: adoption.profile, node, cpus });
    this.dirty = true;
    this.a.run(d.commands, obs);
    if (this.placement_ms.push(this.a.executor.affinityDone_ms - t0) > 1_000) this.placement_ms.shift();
    if (this.placement_cgroup_ms.push(performance.now() - t0) > 1_000) this.placement_cgroup_ms.shift();
    // Bookkeeping for exit checks, after the placement (unless it exited meanwhile): a pidfd of this very process.
    if (this.managed.has(fragment)) this.exits.watch(fragment, pid, () => stillRunning(this.a.roots, pid, starttime));
    return true;
  }

  /** The node holding most of the process's resident memory (numa_maps), when there is a choice. */
  private home(pid: number): { memory_home?: number } {
    if (this.a.topology.nodes.length < 2) return {};
    try {
      const r = readNumaMaps(this.a.roots, pid);
      if (r.gone) return {};
      let best: number | undefined,
        kb = 0;
      for (const [node, v] of Object.entries(r.value.kb_by_node)) if (v > kb) [best, kb] = [Number(node), v];
      return best === undefined ? {} : { memory_home: best };
    } catch {
      return {};
    }
  }

  private gone(m: Managed, why: string, obs: Observation): void {
    this.managed.delete(m.fragment);
    this.exits.unwatch(m.fragment);
    this.dirty = true;
    this.a.act((e) => e.release(m.fragment, why, obs), obs);
    this.a.removeGroup(m.fragment, obs.t_ms);
  }

  fragmentObservations(): Observation['fragments'] {
    return undefined; // adopted processes are not health-checked (engine/adoption.ts)
  }

  command(c: Command, obs: Observation): void {
    if (c.type === 'alert') {
      this.a.log(`alert ${c.subject}: ${c.reason}`);
      return;
    }
    if (c.type !== 'pin' && c.type !== 'migrate') return; // adopt mode has no pools: nothing else applies
    const m = this.managed.get(c.fragment);
    if (!m) return;
    const steps =
      c.type === 'pin'
        ? this.a.executor.pin(c.fragment, [m.pid], c.node, c.cpus)
        : this.a.executor.migrate(c.fragment, [m.pid], c.from, c.to, c.cpus);
    m.node = c.type === 'pin' ? c.node : c.to;
    m.cpus = c.cpus;
    this.dirty = true;
    if (!this.batching) this.save();
    this.a.steps(steps, obs.t_ms);
    // A process that exited mid-placement: tell the engine now rather than at the next turn.
    if (steps.some((s) => s.gone) && !stillRunning(this.a.roots, m.pid, m.starttime))
      this.gone(m, 'exited during placement', obs);
  }

  schedule(_body: ScheduleBody): Promise<Answer> {
    return Promise.resolve({
      status: 409,
      body: {
        error:
          'the agent runs in adopt mode: it manages existing processes and has no pools to schedule requests on; run it with --mode pool',
      },
    });
  }

  state(): unknown {
    return {
      managed: [...this.managed.values()].sort((x, y) => x.pid - y.pid),
      rejected: [...this.rejected.keys()].sort((x, y) => x - y),
    };
  }

  async stop(): Promise<void> {
    this.dirty = true;
    this.save(); // processes stay where they are; the next run re-adopts them
    this.exits.close();
  }

  private nodeOf(cpus: readonly number[]): number | undefined {
    return this.a.topology.nodes.find((n) => cpus.length > 0 && cpus.every((c) => n.cpus.includes(c)))?.id;
  }

  private readState(): Managed[] {
    try {
      const text = readFileSync(this.stateFile, 'utf8');
      if (text.length > MAX_STATE_BYTES || nestingTooDeep(text, 8)) throw new Error('too large or nested too deep');
      const v = JSON.parse(text) as { fragments?: Managed[] };
      return Array.isArray(v.fragments) ? v.fragments.filter((m) => Number.isInteger(m.pid) && m.pid > 0) : [];
    } catch {
      return [];
    }
  }

  /** Atomic and durable (live/ownership.ts): a crash leaves the old file or the new one. A failed write is retried at the next change. */
  private save(): void {
    if (!this.dirty) return;
    try {
      writeStateFile(this.stateFile, JSON.stringify({ fragments: [...this.managed.values()] }));
      this.dirty = false;
    } catch (e) {
      this.a.warn(`${this.stateFile}: cannot save (${(e as Error).message}); retried at the next turn`);
    }
  }
}
