/**
 * Pool mode's recovery at start: what a previous run left under cgroup_parent, sorted by the
 * ownership record (live/ownership.ts) into what is fgo's — stopped and removed — and what is not —
 * left alone and reported once. See docs/ownership.md.
 */
import type { Observation } from '../engine/types.ts';
import type { CpusetGroups } from './enforce.ts';
import type { ModeHost } from './mode.ts';
import { stillRunning } from './selectors.ts';

/**
 * Stop the workers a previous run left (recorded pid AND start time still match: the same
 * process), remove the empty groups it created; report, once, and leave alone everything else.
 */
export function stopOrphans(a: ModeHost, groups: CpusetGroups | undefined, obs: Observation): void {
  const roots = a.roots;
  const orphans = new Set<number>();
  for (const r of a.owned.workers()) {
    if (!stillRunning(roots, r.pid, r.starttime)) {
      a.owned.removeWorker(r.pid, r.starttime); // exited, or its pid now names another process
      continue;
    }
    orphans.add(r.pid);
    a.log(
      `${a.executor.enforcing ? 'stopping' : 'dry run: would stop'} orphaned worker pid ${r.pid} of ${r.fragment} (started by a previous run: pid and start time ${r.starttime} match ${a.owned.file}; its pipes are gone)`,
    );
    if (!a.executor.enforcing) continue; // dry run: recorded, so a later run with --enforce stops it
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    a.owned.removeWorker(r.pid, r.starttime);
  }
  for (const g of groups?.list() ?? []) {
    const foreign = g.pids.filter((pid) => !orphans.has(pid));
    if (foreign.length)
      a.warn(
        `left alone: processes ${foreign.join(',')} in ${g.path}, not started by fgo (no matching pid and start time in ${a.owned.file})`,
      );
    if (!groups?.ours(g.path)) {
      a.warn(`left alone: cpuset group ${g.path}, not created by fgo`);
      continue;
    }
    if (foreign.length) continue; // ours, but holding someone else's processes: not removable, not touched
    a.note(obs.t_ms, 'info', `recovered group ${g.name}`, { pids: g.pids });
    a.removeGroup(g.name, obs.t_ms); // retried at later turns until the killed workers have left it
  }
}
