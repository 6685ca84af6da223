/**
 * Adopt mode's selectors: which running processes the agent manages. A rule names a profile and
 * any of: exact PIDs, the owner's uid, the resolved executable, a glob over the process's cgroup
 * paths, a regular expression over its command line; all given selectors of a rule must match,
 * and the first matching rule wins. Kernel threads (empty cmdline), zombies and the agent itself
 * are never selected.
 *
 * The command line is whatever the process says it is: any user can start a copy of `sleep`
 * named `stress-ng`. uid (real and effective), exe (/proc/PID/exe, which a user cannot forge
 * into a root-owned path it did not run) and cgroup (where only root moves processes) are what a
 * rule can trust; see docs/ownership.md.
 */
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { AdoptRule } from './config.ts';
import { readHostFile } from './procread.ts';
import { listPids, readPidStat, readPidStatus, type PidStat } from './proc-pid.ts';
import type { HostRoots } from '../formats/host/roots.ts';

export interface Candidate {
  pid: number;
  /** Ticks after boot: with the pid, what identifies a process across pid reuse. */
  starttime: number;
  profile: string;
  cmdline: string;
  /** The process name (/proc/PID/stat comm) and the index of the rule that matched: what a log line names. */
  comm: string;
  rule: number;
}

interface CompiledRule {
  profile: string;
  pids?: ReadonlySet<number>;
  uids?: ReadonlySet<number>;
  /** Exact path, or a directory prefix when it ends with '/'. */
  exe?: string;
  cgroup?: RegExp;
  cmdline?: RegExp;
}

/** What a rule matches on, as a log line names it: `cmdline /^stress-ng/, uid 0`. */
export function describeRule(r: AdoptRule): string {
  const parts: string[] = [];
  if (r.pids) parts.push(`pids ${r.pids.join(',')}`);
  if (r.uid !== undefined) parts.push(`uid ${Array.isArray(r.uid) ? r.uid.join(',') : r.uid}`);
  if (r.exe !== undefined) parts.push(`exe ${r.exe}`);
  if (r.cgroup !== undefined) parts.push(`cgroup ${r.cgroup}`);
  if (r.cmdline !== undefined) parts.push(`cmdline /${r.cmdline}/`);
  return parts.join(', ');
}

/** A rule only the command line (which any user controls) decides: a spoofable one. */
export function spoofable(r: AdoptRule): boolean {
  return (
    r.cmdline !== undefined &&
    r.pids === undefined &&
    r.uid === undefined &&
    r.exe === undefined &&
    r.cgroup === undefined
  );
}

/** `*` within one path segment, `**` across segments, `?` one character; the rest literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function compileRules(rules: readonly AdoptRule[]): CompiledRule[] {
  return rules.map((r) => {
    const c: CompiledRule = { profile: r.profile };
    if (r.pids) c.pids = new Set(r.pids);
    if (r.uid !== undefined) c.uids = new Set(Array.isArray(r.uid) ? r.uid : [r.uid]);
    if (r.exe !== undefined) c.exe = r.exe;
    if (r.cgroup !== undefined) c.cgroup = globToRegExp(r.cgroup);
    if (r.cmdline !== undefined) c.cmdline = new RegExp(r.cmdline);
    return c;
  });
}

/** The cgroup paths of /proc/PID/cgroup (v1 lines `N:controllers:/path`, v2 `0::/path`). */
export function parseCgroupPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const i = line.indexOf(':'),
      j = i < 0 ? -1 : line.indexOf(':', i + 1);
    if (j > 0) out.push(line.slice(j + 1));
  }
  return out;
}

/** Real and effective uid of a process (/proc/PID/status `Uid:` real effective saved fs); undefined when unreadable. */
export function processUids(roots: HostRoots, pid: number): { real: number; effective: number } | undefined {
  try {
    const st = readPidStatus(roots, pid);
    const m = st.gone ? null : /^(\d+)\s+(\d+)/.exec(st.value.fields.Uid ?? '');
    return m ? { real: Number(m[1]), effective: Number(m[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/** The resolved executable (/proc/PID/exe); undefined when gone or unreadable (a kernel thread, or not root). */
export function processExe(roots: HostRoots, pid: number): string | undefined {
  try {
    return readlinkSync(join(roots.proc, String(pid), 'exe'));
  } catch {
    return undefined;
  }
}

/** Exact path, or under a prefix ending in '/'. A replaced binary reads "PATH (deleted)" and matches neither. */
export function exeMatches(rule: string, exe: string): boolean {
  return rule.endsWith('/') ? exe.startsWith(rule) : exe === rule;
}

/** Read a file of a process; undefined when the process is gone (or the file unreadable). */
function readPid(roots: HostRoots, pid: number, name: string): string | undefined {
  const r = readHostFile(join(roots.proc, String(pid), name));
  return r.ok ? r.text : undefined;
}

/**
 * The process has exited (a zombie awaiting its parent, or dead). A zombie main thread alone is
 * not enough: after pthread_exit in main (or while the threads of an exiting process go one by
 * one) the leader shows 'Z' while other threads run on.
 */
function exited(st: PidStat): boolean {
  return st.state === 'X' || (st.state === 'Z' && st.num_threads <= 1);
}

/** The start time of a running process (/proc/PID/stat field 22); undefined when it is gone, exited or unreadable. */
export function processStart(roots: HostRoots, pid: number): number | undefined {
  try {
    const st = readPidStat(roots, pid);
    return st.gone || exited(st.value) ? undefined : st.value.starttime;
  } catch {
    return undefined;
  }
}

/** Is `pid` the same process that had `starttime`? False when it exited (or the pid was reused). */
export function stillRunning(roots: HostRoots, pid: number, starttime: number): boolean {
  return processStart(roots, pid) === starttime;
}

/**
 * Processes matching a rule, skipping `exclude` (already managed, or the agent). One listing of
 * /proc, then per process only the files the rules need.
 */
export function scan(roots: HostRoots, rules: readonly CompiledRule[], exclude: ReadonlySet<number>): Candidate[] {
  if (rules.length === 0) return [];
  const needCgroup = rules.some((r) => r.cgroup);
  const out: Candidate[] = [];
  for (const pid of listPids(roots)) {
    if (exclude.has(pid)) continue;
    const raw = readPid(roots, pid, 'cmdline');
    if (!raw) continue; // gone, or a kernel thread (empty cmdline)
    const cmdline = raw.replace(/\0+$/, '').split('\0').join(' ');
    let cgroups: string[] | undefined;
    let uids: ReturnType<typeof processUids> | null = null; // null: not read yet
    let exe: string | undefined | null = null;
    const rule = rules.findIndex((r) => {
      if (r.pids && !r.pids.has(pid)) return false;
      if (r.cmdline && !r.cmdline.test(cmdline)) return false;
      if (r.uids) {
        if (uids === null) uids = processUids(roots, pid);
        if (!uids || !r.uids.has(uids.real) || !r.uids.has(uids.effective)) return false;
      }
      if (r.exe !== undefined) {
        if (exe === null) exe = processExe(roots, pid);
        if (exe === undefined || !exeMatches(r.exe, exe)) return false;
      }
      if (r.cgroup) {
        if (cgroups === undefined) cgroups = needCgroup ? parseCgroupPaths(readPid(roots, pid, 'cgroup') ?? '') : [];
        if (!cgroups.some((p) => (r.cgroup as RegExp).test(p))) return false;
      }
      return true;
    });
    if (rule < 0) continue;
    let st: ReturnType<typeof readPidStat>;
    try {
      st = readPidStat(roots, pid);
    } catch {
      continue;
    }
    if (st.gone || exited(st.value)) continue;
    out.push({
      pid,
      starttime: st.value.starttime,
      profile: (rules[rule] as CompiledRule).profile,
      cmdline,
      comm: st.value.comm,
      rule,
    });
  }
  return out;
}
