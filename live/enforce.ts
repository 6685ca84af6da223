/**
 * The thin layer that carries out the engine's placement (`pin`/`start` give a node list and a CPU
 * list) through cpuset cgroups. Policy lives in engine/; this only acts, and turns every failed
 * write into a CpusetError naming the file, the value and the errno.
 *
 * Two kernels' worth of rules:
 *
 * - cgroup v2: a group gets `cpuset.cpus`/`cpuset.mems` only when its parent has `+cpuset` in
 *   `cgroup.subtree_control`; empty files mean "inherit the parent's effective set"; CPUs outside
 *   the parent's set are accepted and silently masked (see `cpuset.cpus.effective`).
 * - cgroup v1: a new group starts with EMPTY `cpuset.cpus` and `cpuset.mems` (unless the parent has
 *   `cgroup.clone_children` = 1), and no task can join until both are set (ENOSPC). CPUs must be a
 *   subset of the parent's (EACCES), a parent cannot shrink below a child (EBUSY), a CPU beyond the
 *   kernel's possible CPUs fails to parse (ERANGE) and an offline one is refused (EINVAL).
 *   Writing a pid to `cgroup.procs` moves every thread of that process.
 *
 * Dry-run mode records every mkdir/write/rmdir it would do, and does none of them (reads still happen,
 * to plan the same steps a real run would take).
 *
 * Ownership: given an `owned` record (the agent's live/ownership.ts ledger), a group is created
 * only after it is recorded, an existing group is written to or joined only if it is recorded,
 * and only recorded groups are removed. Anything else under the base belongs to someone else.
 */
import { mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpusetError, detectCpusetBackend, errnoText, type CpusetBackend } from './cgroup-backend.ts';
import { cleanSysfsText } from '../formats/host/cpulist.ts';
import { isDir, readText } from '../formats/host/files.ts';
import {
  type CpusetAction,
  type CpusetGroupsOptions,
  type GroupInfo,
  type GroupOwnership,
  normalizeList,
  validateGroupName,
} from './cpuset-group.ts';

export { CpusetError, detectCpusetBackend, type CpusetBackend } from './cgroup-backend.ts';

const readTrim = (p: string) => {
  const t = readText(p);
  return t === undefined ? undefined : cleanSysfsText(t);
};

export class CpusetGroups {
  readonly backend: Extract<CpusetBackend, { kind: 'v1' | 'v2' }>;
  readonly dryRun: boolean;
  /** Local path of the base group. */
  readonly basePath: string;
  /** Every action done (or, in dry-run, recorded) by this instance, in order. */
  readonly actions: CpusetAction[] = [];
  private readonly baseSegments: string[];
  /** Directories a dry run has "created", so later planning sees them. */
  private readonly planned = new Set<string>();
  private readonly owned: GroupOwnership | undefined;

  constructor(opts: CpusetGroupsOptions) {
    this.owned = opts.owned;
    const backend = opts.backend ?? detectCpusetBackend(opts.roots);
    if (backend.kind === 'none')
      throw new CpusetError(`cannot enforce cpusets: ${backend.reason}`, { code: 'ENOENT', op: 'validate' });
    this.backend = backend;
    this.dryRun = opts.dryRun ?? false;
    this.baseSegments = (opts.base ?? 'fgo')
      .split('/')
      .filter((s) => s !== '')
      .map(validateGroupName);
    this.basePath = join(backend.mount, ...this.baseSegments);
  }

  private get prefix(): string {
    return this.backend.kind === 'v1' ? this.backend.prefix : 'cpuset.';
  }
  private cpusFile(dir: string) {
    return join(dir, `${this.prefix}cpus`);
  }
  private memsFile(dir: string) {
    return join(dir, `${this.prefix}mems`);
  }

  /** Local path of a group (validated name). */
  groupPath(name: string): string {
    return join(this.basePath, validateGroupName(name));
  }

  /** Is the group at `dir` ours to write, join or remove? Without an ownership record, yes. */
  ours(dir: string): boolean {
    return this.owned === undefined || this.owned.ownsGroup(dir);
  }

  private foreign(dir: string, op: CpusetError['op']): CpusetError {
    return new CpusetError(`cpuset group ${dir} was not created by this agent (no record in its state): left alone`, {
      code: 'EFOREIGN',
      op,
      path: dir,
    });
  }

  // -- primitive actions, each recorded ---------------------------------------------------------

  private dirExists(p: string): boolean {
    return this.planned.has(p) || isDir(p);
  }

  private mkdir(p: string, out: CpusetAction[]): void {
    const a: CpusetAction = { op: 'mkdir', path: p, dryRun: this.dryRun };
    if (this.dryRun) this.planned.add(p);
    else {
      try {
        mkdirSync(p);
      } catch (e) {
        throw this.ioError(e, 'mkdir', p);
      }
    }
    this.actions.push(a);
    out.push(a);
  }

  private write(p: string, value: string, out: CpusetAction[], ctx: { pid?: number } = {}): void {
    const a: CpusetAction = { op: 'write', path: p, value, dryRun: this.dryRun };
    if (!this.dryRun) {
      try {
        // cgroupfs takes one value per write(2); a string this short goes in one write. An empty set
        // is written as a newline: a zero-length write would never reach the kernel.
        writeFileSync(p, value === '' ? '\n' : value);
      } catch (e) {
        throw this.ioError(e, 'write', p, value, ctx.pid);
      }
    }
    this.actions.push(a);
    out.push(a);
  }

  private rmdir(p: string, out: CpusetAction[]): void {
    const a: CpusetAction = { op: 'rmdir', path: p, dryRun: this.dryRun };
    if (this.dryRun) this.planned.delete(p);
    else {
      try {
        rmdirSync(p);
      } catch (e) {
        throw this.ioError(e, 'rmdir', p);
      }
    }
    this.actions.push(a);
    out.push(a);
  }

  /** A failed mkdir/write/rmdir as a CpusetError naming the file, the value, the errno and a likely cause. */
  private ioError(
    e: unknown,
    op: 'mkdir' | 'write' | 'rmdir',
    path: string,
    value?: string,
    pid?: number,
  ): CpusetError {
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? 'EUNKNOWN';
    const what = op === 'write' ? `write ${JSON.stringify(value)} to ${path}` : `${op} ${path}`;
    let message = `${what} failed: ${code} (${errnoText(err)})`;
    const file = path.split('/').pop() ?? '';
    const parent = join(path, '..', '..');
    const hint = (() => {
      if (code === 'EACCES' || code === 'EPERM') {
        if (file.endsWith('cpus') && op === 'write' && this.backend.kind === 'v1')
          return `CPUs ${value} are not all within the parent's ${this.prefix}cpus (${readTrim(this.cpusFile(parent)) ?? '?'}), or not running as root`;
        if (file.endsWith('mems') && op === 'write' && this.backend.kind === 'v1')
          return `nodes ${value} are not all within the parent's ${this.prefix}mems (${readTrim(this.memsFile(parent)) ?? '?'}), or not running as root`;
        return 'needs root (CAP_SYS_ADMIN) and a writable cgroup filesystem';
      }
      if (file.endsWith('cpus') && (code === 'EINVAL' || code === 'ERANGE')) {
        return `CPUs ${value} are not all online CPUs within the parent's set (${readTrim(this.cpusFile(parent)) ?? '?'})${code === 'ERANGE' ? "; some lie beyond the kernel's possible CPUs" : ''}`;
      }
      if (file.endsWith('mems') && (code === 'EINVAL' || code === 'ERANGE'))
        return `nodes ${value} are not all online memory nodes within the parent's set (${readTrim(this.memsFile(parent)) ?? '?'})`;
      if ((file === 'cgroup.procs' || file === 'tasks') && code === 'ENOSPC')
        return `the group's ${this.prefix}cpus or ${this.prefix}mems is empty (v1 needs both set before tasks can join)`;
      if ((file === 'cgroup.procs' || file === 'tasks') && code === 'ESRCH')
        return `process ${pid ?? value} does not exist (exited?)`;
      if (file.endsWith('cpus') && code === 'EBUSY')
        return 'a child group uses CPUs outside the new set (shrink the children first)';
      if (file.endsWith('mems') && code === 'EBUSY')
        return 'a child group uses nodes outside the new set (shrink the children first)';
      if (op === 'rmdir' && (code === 'EBUSY' || code === 'ENOTEMPTY'))
        return 'the group still holds processes or child groups';
      if (code === 'EOPNOTSUPP' && file === 'cgroup.procs')
        return 'cgroup v2 refuses this move (a threaded or domain-invalid group?)';
      return undefined;
    })();
    if (hint) message += `: ${hint}`;
    return new CpusetError(message, { code, path, op });
  }

  // -- base group -------------------------------------------------------------------------------

  /** Create the base group (and any missing ancestors below the mount), making it able to hold cpuset children. */
  private ensureBase(out: CpusetAction[]): void {
    let dir = this.backend.mount;
    for (const seg of this.baseSegments) {
      const child = join(dir, seg);
      this.enableSubtree(dir, out);
      if (!this.dirExists(child)) this.mkdir(child, out);
      if (this.backend.kind === 'v1') this.fillFromParent(dir, child, out);
      dir = child;
    }
    this.enableSubtree(dir, out);
  }

  /** v2: `+cpuset` in the directory's cgroup.subtree_control, so its children get cpuset files. */
  private enableSubtree(dir: string, out: CpusetAction[]): void {
    if (this.backend.kind !== 'v2') return;
    const cur = readTrim(join(dir, 'cgroup.subtree_control'));
    if (cur?.split(/\s+/).includes('cpuset')) return;
    this.write(join(dir, 'cgroup.subtree_control'), '+cpuset', out);
  }

  /** v1: a new group's cpus/mems start empty; give an intermediate group its parent's sets. */
  private fillFromParent(parent: string, child: string, out: CpusetAction[]): void {
    for (const f of [this.memsFile.bind(this), this.cpusFile.bind(this)]) {
      const cur = this.planned.has(child) ? '' : (readTrim(f(child)) ?? '');
      if (cur !== '') continue;
      const fromParent = readTrim(f(parent)) ?? '';
      this.write(f(child), fromParent, out);
    }
  }

  // -- public API -------------------------------------------------------------------------------

  /**
   * Create or update `<base>/<name>` with the given CPUs and memory nodes. `mems` absent: v1 copies the
   * parent's (a v1 group needs both), v2 leaves it empty (inherit). Unchanged files are not rewritten.
   * Returns the actions taken (or, in dry-run, planned).
   */
  ensure(name: string, cpus: string | readonly number[], mems?: string | readonly number[]): CpusetAction[] {
    const dir = this.groupPath(name);
    const wantCpus = normalizeList('CPU', cpus);
    let wantMems = mems === undefined ? undefined : normalizeList('memory node', mems);
    const out: CpusetAction[] = [];
    this.ensureBase(out);
    const created = !this.dirExists(dir);
    if (!created && !this.planned.has(dir) && !this.ours(dir)) throw this.foreign(dir, 'validate');
    if (created && !this.dryRun) this.owned?.addGroup(dir); // recorded before the mkdir: see live/ownership.ts
    if (created) this.mkdir(dir, out);
    if (wantMems === undefined && this.backend.kind === 'v1') wantMems = readTrim(this.memsFile(this.basePath)) ?? '';
    const current = (f: string) => (created || this.planned.has(dir) ? undefined : readTrim(f));
    const same = (a: string | undefined, b: string) => a !== undefined && normalizeList('current', a) === b;
    // v1: mems before cpus (both needed before tasks join; order otherwise free)
    if (wantMems !== undefined && !same(current(this.memsFile(dir)), wantMems))
      this.write(this.memsFile(dir), wantMems, out);
    if (!same(current(this.cpusFile(dir)), wantCpus)) this.write(this.cpusFile(dir), wantCpus, out);
    return out;
  }

  /** Move a process (all its threads) into the group by writing its pid to cgroup.procs. */
  move(pid: number, name: string): CpusetAction[] {
    if (!Number.isInteger(pid) || pid <= 0)
      throw new CpusetError(`invalid pid ${pid}: must be a positive integer`, { code: 'EINVAL', op: 'validate' });
    const dir = this.groupPath(name);
    if (!this.dirExists(dir))
      throw new CpusetError(`cpuset group ${JSON.stringify(name)} does not exist at ${dir} (ensure() it first)`, {
        code: 'ENOENT',
        op: 'validate',
        path: dir,
      });
    if (!this.planned.has(dir) && !this.ours(dir)) throw this.foreign(dir, 'validate');
    const out: CpusetAction[] = [];
    this.write(join(dir, 'cgroup.procs'), String(pid), out, { pid });
    return out;
  }

  /** Move a process back to the hierarchy's root group (no cpuset restriction). */
  release(pid: number): CpusetAction[] {
    if (!Number.isInteger(pid) || pid <= 0)
      throw new CpusetError(`invalid pid ${pid}: must be a positive integer`, { code: 'EINVAL', op: 'validate' });
    const out: CpusetAction[] = [];
    this.write(join(this.backend.mount, 'cgroup.procs'), String(pid), out, { pid });
    return out;
  }

  /** Remove an empty group (rmdir). Absent: nothing to do. Refused, before any rmdir, while it holds processes or child groups. */
  remove(name: string): CpusetAction[] {
    const dir = this.groupPath(name);
    const out: CpusetAction[] = [];
    if (!this.dirExists(dir)) {
      if (!this.dryRun) this.owned?.removeGroup(dir);
      return out;
    }
    if (!this.planned.has(dir)) {
      if (!this.ours(dir)) throw this.foreign(dir, 'rmdir');
      const pids = readPids(dir);
      const children = subdirs(dir);
      if (pids.length > 0 || children.length > 0) {
        const what = [
          pids.length ? `processes ${pids.join(',')}` : '',
          children.length ? `child groups ${children.join(',')}` : '',
        ]
          .filter(Boolean)
          .join(' and ');
        throw new CpusetError(`rmdir ${dir} refused: the group still holds ${what}`, {
          code: 'EBUSY',
          op: 'rmdir',
          path: dir,
        });
      }
    }
    this.rmdir(dir, out);
    if (!this.dryRun) this.owned?.removeGroup(dir);
    return out;
  }

  /** The groups under the base, with their sets and processes. */
  list(): GroupInfo[] {
    const names = new Set(subdirs(this.basePath));
    for (const p of this.planned) if (join(p, '..') === this.basePath) names.add(p.slice(this.basePath.length + 1));
    const eff =
      this.backend.kind === 'v2'
        ? ['cpuset.cpus.effective', 'cpuset.mems.effective']
        : [`${this.prefix}effective_cpus`, `${this.prefix}effective_mems`];
    return [...names].sort().map((name) => {
      const path = join(this.basePath, name);
      return {
        name,
        path,
        cpus: readTrim(this.cpusFile(path)) ?? '',
        mems: readTrim(this.memsFile(path)) ?? '',
        effectiveCpus: readTrim(join(path, eff[0] as string)),
        effectiveMems: readTrim(join(path, eff[1] as string)),
        pids: readPids(path),
      };
    });
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

function readPids(dir: string): number[] {
  const t = readText(join(dir, 'cgroup.procs'));
  if (t === undefined) return [];
  return cleanSysfsText(t)
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n));
}
