/**
 * The live agent's targets, measured on this host (root needed for --enforce):
 * - overhead: CPU time of the agent (its own utime + stime, process.cpuUsage) ÷ wall time while it
 *   manages N processes at a 1 s tick (target ≤ 1 % of one CPU), at N = 100 and at N = 1,000;
 * - placement: a new process found by the scan → adopted by the engine → the affinity of every
 *   thread set (engine call + enforcement, per process; target p99 ≤ 5 ms), and then in its own
 *   cpuset group too;
 * - tick: the wall time of one agent turn (sample → mode → engine tick → journal fsync);
 * - reaction: a PSI trigger event → the end of the agent turn it caused, i.e. the engine's
 *   decision (target ≤ one trigger window, here 2 s), measured with 100 managed processes.
 * Adopt mode is what manages containers (started by their runtime, as numad adopts them); the
 * managed processes are `sleep`s (cheap), each adopted into its own cpuset group. The load for the
 * trigger is 4 busy loops on the host's CPUs. `--quick` measures overhead over 10 s instead of 60 s;
 * `--processes N` runs only the N-process measurement (e.g. 1000, for profiling).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../live/agent.ts';
import { parseLiveConfig } from '../live/config.ts';
import { resolveRoots } from '../formats/host/roots.ts';
import type { AdoptMode } from '../live/adopt-mode.ts';
import { roundTo } from '../engine/round.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const only = process.argv.indexOf('--processes');
const overhead_s = quick ? 10 : Number(process.env.FGO_BENCH_OVERHEAD_S ?? 60);
const say = (s: string) => {
  if (!json) console.log(s);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const p50p99 = (xs: number[]) => ({ p50: roundTo(pct(xs, 50), 3), p99: roundTo(pct(xs, 99), 3) });

interface Managed {
  agent: Agent;
  children: ChildProcess[];
  finish(): Promise<void>;
}

/** An agent at a 1 s tick that has adopted N fresh `sleep`s; placement figures printed. */
async function manage(n: number): Promise<Managed & { placement: number[]; withGroup: number[] }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'fgo-bench-agent-'));
  const parent = `fgo-bench-${process.pid}-${n}`;
  const marker = `86399.${process.pid}0${n}`; // digits only: sleep must accept it
  const cfg = parseLiveConfig(
    {
      mode: 'adopt',
      state_dir: stateDir,
      cgroup_parent: parent,
      interval_ms: 1000,
      triggers: [{ resource: 'cpu', line: 'some', stall_us: 100_000, window_us: 2_000_000 }],
      adopt: {
        scan_interval_ms: 5000,
        rules: [{ profile: 'batch', cmdline: `^sleep ${marker.replace('.', '\\.')}$` }],
      },
      // 1,000 × 0.001 CPU and 1 MiB: every process fits on this 2-CPU host.
      engine: { profiles: { batch: { cpus: 0.001, memory_kb: 1024 } } },
    },
    stateDir,
  );
  const children: ChildProcess[] = [];
  const agent = new Agent({ config: cfg, roots: resolveRoots(), enforce: true, version: 'bench', log: () => {} });
  const adopt = agent.mode as AdoptMode;
  const finish = async () => {
    for (const c of children) c.kill('SIGKILL'); // by the pid spawn recorded
    await agent.stop();
    await sleep(300 + n);
    cleanupGroups(`/sys/fs/cgroup/cpuset/${parent}`);
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) children.push(spawn('sleep', [marker], { stdio: 'ignore' }));
    await sleep(200 + n);
    agent.start();
    const managed = () => (adopt.state() as { managed: unknown[] }).managed.length;
    for (let i = 0; i < 300 && managed() < n; i++) await sleep(100);
    if (managed() < n) throw new Error(`only ${managed()} of ${n} processes adopted`);
  } catch (e) {
    await finish();
    throw e;
  }
  const placement = [...adopt.placement_ms],
    withGroup = [...adopt.placement_cgroup_ms];
  say(
    `${n} processes: placement of a new process (engine adopt → affinity of every thread set): p50 ${pct(placement, 50).toFixed(2)} ms, p99 ${pct(placement, 99).toFixed(2)} ms (target ≤ 5 ms)`,
  );
  say(
    `  … and in its own cpuset group too (cgroup mkdir + writes): p50 ${pct(withGroup, 50).toFixed(2)} ms, p99 ${pct(withGroup, 99).toFixed(2)} ms`,
  );
  return { agent, children, finish, placement, withGroup };
}

/** Steady state (sampling, exit checks, a scan every 5 s): the agent's own CPU over the window and its turns' wall time. */
async function overhead(m: Managed, n: number): Promise<{ pct: number; turn_ms: number[] }> {
  await sleep(1500);
  const c0 = process.cpuUsage(),
    w0 = performance.now(),
    turns0 = m.agent.turns;
  await sleep(overhead_s * 1000);
  const c1 = process.cpuUsage(c0),
    wall_ms = performance.now() - w0;
  const cpu_ms = (c1.user + c1.system) / 1000;
  const turns = m.agent.turns - turns0;
  const turn_ms = m.agent.turn_ms.slice(-turns);
  const p = (100 * cpu_ms) / wall_ms;
  say(
    `  overhead managing ${n} processes at a 1 s tick: ${cpu_ms.toFixed(0)} ms CPU in ${(wall_ms / 1000).toFixed(1)} s over ${turns} turns = ${p.toFixed(3)} % of one CPU (target ≤ 1 %); turn p50 ${pct(turn_ms, 50).toFixed(2)} ms, p99 ${pct(turn_ms, 99).toFixed(2)} ms`,
  );
  return { pct: p, turn_ms };
}

/** Load the CPUs until a trigger event has driven a turn: event → end of that turn, ms. */
async function reaction(m: Managed): Promise<number | undefined> {
  const hogs = Array.from({ length: 4 }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  m.children.push(...hogs);
  const t_load = performance.now(),
    events0 = m.agent.triggerEvents,
    turns1 = m.agent.turns;
  for (let i = 0; i < 300 && !(m.agent.triggerEvents > events0 && m.agent.turns > turns1); i++) await sleep(20);
  const reaction_ms = m.agent.triggerEvents > events0 ? m.agent.lastTriggerReaction_ms : undefined;
  const first_event_s = (performance.now() - t_load) / 1000;
  for (const h of hogs) h.kill('SIGKILL');
  say(
    reaction_ms === undefined
      ? 'reaction: no trigger event within 30 s of load (triggers unavailable?)'
      : `reaction: trigger event → decision ${reaction_ms.toFixed(2)} ms (target ≤ one window, 2000 ms); first event ${first_event_s.toFixed(1)} s after the load began`,
  );
  return reaction_ms;
}

/** The 1,000-process figures (or N's with --processes N). */
async function atScale(n: number): Promise<Record<string, unknown>> {
  const m = await manage(n);
  try {
    const o = await overhead(m, n);
    return {
      processes: n,
      cpu_pct_of_one_cpu: roundTo(o.pct, 3),
      window_s: overhead_s,
      placement_p99_ms: roundTo(pct(m.placement, 99), 3),
      placement_ms: p50p99(m.placement),
      placement_with_cgroup_ms: p50p99(m.withGroup),
      tick_ms_p99: roundTo(pct(o.turn_ms, 99), 3),
      tick_ms_p50: roundTo(pct(o.turn_ms, 50), 3),
    };
  } finally {
    await m.finish();
  }
}

if (only >= 0) {
  const n = Number(process.argv[only + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error('--processes N: a positive integer');
  const r = await atScale(n);
  if (json) console.log(JSON.stringify({ agent: { [`processes_${n}`]: r } }));
} else {
  const N = 100;
  const m = await manage(N);
  let small: Record<string, unknown>;
  try {
    const o = await overhead(m, N);
    const reaction_ms = await reaction(m);
    small = {
      processes: N,
      placement_ms: p50p99(m.placement),
      placement_with_cgroup_ms: p50p99(m.withGroup),
      overhead_pct_of_one_cpu: roundTo(o.pct, 3),
      overhead_window_s: overhead_s,
      trigger_reaction_ms: reaction_ms === undefined ? null : roundTo(reaction_ms, 3),
    };
  } finally {
    await m.finish();
  }
  const big = await atScale(1000);
  if (json) console.log(JSON.stringify({ agent: { ...small, processes_1000: big } }));
}

/** Remove the bench's cpuset groups (children first); the processes are dead by now. */
function cleanupGroups(dir: string): void {
  try {
    for (const d of readdirSync(dir, { withFileTypes: true }))
      if (d.isDirectory())
        try {
          rmdirSync(join(dir, d.name));
        } catch {
          /* busy: left for the OS */
        }
    rmdirSync(dir);
  } catch {
    /* not created (no cpuset hierarchy) */
  }
}
