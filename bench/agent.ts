/**
 * The live agent's targets, measured on this host (root needed for --enforce):
 * - overhead: CPU time of the agent ÷ wall time while it manages 100 processes at a 1 s tick
 *   (target ≤ 1 % of one CPU);
 * - placement: a new process found by the scan → adopted by the engine → in its cpuset group with
 *   the affinity of every thread set (target ≤ 5 ms);
 * - reaction: a PSI trigger event → the end of the agent turn it caused, i.e. the engine's
 *   decision (target ≤ one trigger window, here 2 s).
 * The managed processes are `sleep`s (cheap); the load for the trigger is 4 busy loops on the
 * host's CPUs. `--quick` measures overhead over 10 s instead of 60 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../live/agent.ts';
import { parseLiveConfig } from '../live/config.ts';
import { resolveRoots } from '../live/roots.ts';
import type { AdoptMode } from '../live/adopt-mode.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const N = 100;
const overhead_s = quick ? 10 : Number(process.env.FGO_BENCH_OVERHEAD_S ?? 60);
const say = (s: string) => { if (!json) console.log(s); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number; };

const stateDir = mkdtempSync(join(tmpdir(), 'fgo-bench-agent-'));
const parent = `fgo-bench-${process.pid}`;
const marker = `86399.${process.pid}`;
const cfg = parseLiveConfig({
  mode: 'adopt', state_dir: stateDir, cgroup_parent: parent, interval_ms: 1000,
  triggers: [{ resource: 'cpu', line: 'some', stall_us: 100_000, window_us: 2_000_000 }],
  adopt: { scan_interval_ms: 5000, rules: [{ profile: 'batch', cmdline: `^sleep ${marker.replace('.', '\\.')}$` }] },
  engine: { profiles: { batch: { cpus: 0.01, memory_kb: 1024 } } },
}, stateDir);
const children: ChildProcess[] = [];
const agent = new Agent({ config: cfg, roots: resolveRoots(), enforce: true, version: 'bench', log: () => {} });
const adopt = agent.mode as AdoptMode;

try {
  for (let i = 0; i < N; i++) children.push(spawn('sleep', [marker], { stdio: 'ignore' }));
  await sleep(200);
  agent.start();
  const managed = () => (adopt.state() as { managed: unknown[] }).managed.length;
  for (let i = 0; i < 100 && managed() < N; i++) await sleep(100);
  if (managed() < N) throw new Error(`only ${managed()} of ${N} processes adopted`);
  const placement = [...adopt.placement_ms], withGroup = [...adopt.placement_cgroup_ms];
  say(`placement of a new process (engine adopt → affinity of every thread set), ${placement.length} processes: p50 ${pct(placement, 50).toFixed(2)} ms, p99 ${pct(placement, 99).toFixed(2)} ms (target ≤ 5 ms)`);
  say(`  … and in its own cpuset group too (cgroup mkdir + writes): p50 ${pct(withGroup, 50).toFixed(2)} ms, p99 ${pct(withGroup, 99).toFixed(2)} ms`);

  // Steady state: sampling, exit checks, scans every 5 s.
  await sleep(1500);
  const c0 = process.cpuUsage(), w0 = performance.now(), turns0 = agent.turns;
  await sleep(overhead_s * 1000);
  const c1 = process.cpuUsage(c0), wall_ms = performance.now() - w0;
  const cpu_ms = (c1.user + c1.system) / 1000;
  const overhead_pct = (100 * cpu_ms) / wall_ms;
  say(`overhead managing ${managed()} processes at a 1 s tick: ${cpu_ms.toFixed(0)} ms CPU in ${(wall_ms / 1000).toFixed(1)} s over ${agent.turns - turns0} turns = ${overhead_pct.toFixed(3)} % of one CPU (target ≤ 1 %)`);

  // Reaction: load the CPUs until a trigger event has driven a turn.
  const hogs = Array.from({ length: 4 }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  children.push(...hogs);
  const t_load = performance.now(), events0 = agent.triggerEvents, turns1 = agent.turns;
  for (let i = 0; i < 300 && !(agent.triggerEvents > events0 && agent.turns > turns1); i++) await sleep(20);
  const reaction_ms = agent.triggerEvents > events0 ? agent.lastTriggerReaction_ms : undefined;
  const first_event_s = (performance.now() - t_load) / 1000;
  for (const h of hogs) h.kill('SIGKILL');
  say(reaction_ms === undefined
    ? 'reaction: no trigger event within 30 s of load (triggers unavailable?)'
    : `reaction: trigger event → decision ${reaction_ms.toFixed(2)} ms (target ≤ one window, 2000 ms); first event ${first_event_s.toFixed(1)} s after the load began`);
  if (json) console.log(JSON.stringify({ agent: { processes: N, placement_ms: { p50: round(pct(placement, 50)), p99: round(pct(placement, 99)) }, placement_with_cgroup_ms: { p50: round(pct(withGroup, 50)), p99: round(pct(withGroup, 99)) }, overhead_pct_of_one_cpu: round(overhead_pct), overhead_window_s: overhead_s, trigger_reaction_ms: reaction_ms === undefined ? null : round(reaction_ms) } }));
} finally {
  for (const c of children) c.kill('SIGKILL');
  await agent.stop();
  await sleep(300);
  cleanupGroups(`/sys/fs/cgroup/cpuset/${parent}`);
  rmSync(stateDir, { recursive: true, force: true });
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Remove the bench's cpuset groups (children first); the processes are dead by now. */
function cleanupGroups(dir: string): void {
  try {
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) try { rmdirSync(join(dir, d.name)); } catch { /* busy: left for the OS */ }
    rmdirSync(dir);
  } catch { /* not created (no cpuset hierarchy) */ }
}
