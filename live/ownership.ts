/**
 * What this agent can prove it owns: the worker processes it spawned, each as (pid, start time) —
 * field 22 of /proc/PID/stat, so a pid reused by another process is never mistaken for ours — and
 * the cpuset groups it created, by path. Kept in STATE_DIR/owned.json, rewritten atomically (tmp,
 * fsync, rename, fsync of the directory) at every change, so a run after a crash or kill -9 knows
 * exactly what the previous one left. Everything else under `cgroup_parent` belongs to someone
 * else: it is never signalled, moved or removed (pool-mode.ts, adopt-mode.ts, enforce.ts).
 *
 * A group is recorded BEFORE its mkdir: a crash in between leaves a record of a group that does
 * not exist (harmless) rather than a group of ours we would no longer dare to remove.
 */
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../formats/files.ts';
import { join } from 'node:path';
import { nestingTooDeep } from '../formats/json.ts';

export interface OwnedWorker {
  pid: number;
  /** /proc/PID/stat field 22, clock ticks after boot. */
  starttime: number;
  fragment: string;
  profile: string;
}

/** Largest owned.json read back (a few hundred records at most in practice). */
const MAX_LEDGER_BYTES = 4 * 1024 * 1024;
/** Records kept per kind: past this the oldest is forgotten (then left alone, as any process we cannot prove is ours). */
const MAX_RECORDS = 10_000;

export class OwnedLedger {
  private readonly workersByPid = new Map<number, OwnedWorker>();
  private readonly groupPaths = new Set<string>();

  private constructor(
    readonly file: string,
    private readonly warn: (m: string) => void,
  ) {}

  /** Read STATE_DIR/owned.json (absent: nothing owned). An unreadable or malformed file is reported and treated as empty: nothing is then ours. */
  static open(stateDir: string, warn: (m: string) => void): OwnedLedger {
    const l = new OwnedLedger(join(stateDir, 'owned.json'), warn);
    l.load();
    return l;
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.warn(
          `${this.file}: cannot read (${(e as Error).message}); nothing left by a previous run is treated as ours`,
        );
      return;
    }
    const v = parseLedger(text);
    if (typeof v === 'string')
      return this.warn(`${this.file}: ${v}; nothing left by a previous run is treated as ours`);
    for (const w of v.workers) this.workersByPid.set(w.pid, w);
    for (const g of v.groups) this.groupPaths.add(g);
  }

  workers(): OwnedWorker[] {
    return [...this.workersByPid.values()];
  }

  /** The record for `pid` whose start time is `starttime`, if we spawned that very process. */
  worker(pid: number, starttime: number): OwnedWorker | undefined {
    const w = this.workersByPid.get(pid);
    return w && w.starttime === starttime ? w : undefined;
  }

  addWorker(w: OwnedWorker): void {
    this.workersByPid.delete(w.pid);
    this.workersByPid.set(w.pid, w);
    trim(this.workersByPid);
    this.save();
  }

  removeWorker(pid: number, starttime: number): void {
    if (this.worker(pid, starttime) && this.workersByPid.delete(pid)) this.save();
  }

  ownsGroup(path: string): boolean {
    return this.groupPaths.has(path);
  }

  /** Record a group before creating it (see the file comment). */
  addGroup(path: string): void {
    if (this.groupPaths.has(path)) return;
    this.groupPaths.add(path);
    trim(this.groupPaths);
    this.save();
  }

  removeGroup(path: string): void {
    if (this.groupPaths.delete(path)) this.save();
  }

  /** A failed write (disk full…) is reported, not thrown: this run still knows what it owns; after a crash the older record errs on the side of leaving things alone. */
  private save(): void {
    try {
      writeStateFile(this.file, JSON.stringify({ version: 1, workers: this.workers(), groups: [...this.groupPaths] }));
    } catch (e) {
      this.warn(`${this.file}: cannot save the ownership record (${(e as Error).message}); kept in memory`);
    }
  }
}

function trim(c: Map<number, unknown> | Set<string>): void {
  while (c.size > MAX_RECORDS) {
    const first = c.keys().next().value as never;
    c.delete(first);
  }
}

/** The ledger's records, or what is wrong with the text. Records of the wrong shape are dropped, not trusted. */
export function parseLedger(text: string): { workers: OwnedWorker[]; groups: string[] } | string {
  if (text.length > MAX_LEDGER_BYTES) return `larger than ${MAX_LEDGER_BYTES} bytes`;
  if (nestingTooDeep(text, 8)) return 'nested too deep';
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof v !== 'object' || v === null || (v as { version?: unknown }).version !== 1)
    return 'not a version 1 ownership record';
  const record = v as { workers?: unknown; groups?: unknown };
  const isId = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
  const name = (s: unknown) => typeof s === 'string' && s.length > 0 && s.length <= 256;
  const workers = (Array.isArray(record.workers) ? record.workers : [])
    .filter(
      (w): w is OwnedWorker =>
        typeof w === 'object' &&
        w !== null &&
        isId(w.pid) &&
        Number.isSafeInteger(w.starttime) &&
        w.starttime >= 0 &&
        name(w.fragment) &&
        name(w.profile),
    )
    .slice(-MAX_RECORDS);
  const groups = (Array.isArray(record.groups) ? record.groups : [])
    .filter((g): g is string => typeof g === 'string' && g.startsWith('/') && g.length <= 4096 && !g.includes('\0'))
    .slice(-MAX_RECORDS);
  return {
    workers: workers.map((w) => ({ pid: w.pid, starttime: w.starttime, fragment: w.fragment, profile: w.profile })),
    groups,
  };
}

/** Replace a small state file atomically and durably (mode 0600): a crash leaves the old file or the new one, never half. */
export function writeStateFile(file: string, text: string): void {
  writeFileAtomic(file, text, 0o600);
}

/**
 * The state directory holds the API token and the journal: it must be ours and closed to others,
 * or another user could read the token or swap the journal under a root agent.
 */
export function checkStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`state_dir ${dir}: not a directory (a symlink is refused)`);
  if (process.geteuid && st.uid !== process.geteuid())
    throw new Error(
      `state_dir ${dir}: owned by uid ${st.uid}, not by this agent (uid ${process.geteuid()}); fix: chown or choose another state_dir`,
    );
  if (st.mode & 0o022)
    throw new Error(
      `state_dir ${dir}: writable by group or others (mode ${(st.mode & 0o777).toString(8)}); fix: chmod 700 ${dir}`,
    );
}
