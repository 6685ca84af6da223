/**
 * The thin layer that carries out the engine's placement commands on processes: first the affinity
 * of every thread (it takes effect at once, and is the only means where no cpuset hierarchy is
 * writable), then a cpuset group per fragment, which the processes join (new threads inherit it; the
 * kernel enforces it), then, after a move to another node, the process's pages (migrate_pages).
 * Nothing here decides anything.
 *
 * Dry-run (no --enforce) plans the same steps and does none; each step is reported either way, so
 * the journal says what was (or would have been) done. A process that exits mid-placement is not an
 * error: the step reports it `gone` and the agent tells the engine.
 */
import { CpusetError, type CpusetGroups } from './enforce.ts';
import { setProcessAffinity } from './affinity.ts';
import { migratePages } from './mempolicy.ts';
import { SyscallError } from './syscall-error.ts';

export interface Step {
  op: 'cpuset' | 'affinity' | 'migrate_pages' | 'cgroup_remove';
  fragment: string;
  pid?: number;
  ok: boolean;
  dry_run: boolean;
  /** What was done or would be done, for the journal and the log. */
  detail: string;
  /** The process exited meanwhile (ESRCH or vanished from cgroup.procs). */
  gone?: boolean;
  /** Not done yet, to be tried again (a group whose exiting process has not left it). */
  retry?: boolean;
  error?: string;
}

export interface ExecutorOptions {
  /** Undefined when the host has no writable cpuset hierarchy: affinity alone then. */
  groups: CpusetGroups | undefined;
  enforce: boolean;
  /** Memory nodes that exist on this host (a topology read from a dump may name others). */
  hostMems: ReadonlySet<number>;
  migrateMemory: boolean;
  procRoot: string;
}

export class Executor {
  /** performance.now() when the last pin had set the affinity of every thread (for the benchmark). */
  affinityDone_ms = 0;

  constructor(private readonly opts: ExecutorOptions) {}

  get enforcing(): boolean {
    return this.opts.enforce;
  }

  /** Pin a fragment's processes to `cpus` of `node`. */
  pin(fragment: string, pids: readonly number[], node: number, cpus: readonly number[]): Step[] {
    const steps: Step[] = [];
    // Affinity first: it takes effect at once (a cgroup mkdir can wait on the kernel for ms); the
    // cpuset group then holds the placement for threads started later. Joining a v1 cpuset resets
    // affinity to the group's CPUs, which are the same ones.
    for (const pid of pids)
      steps.push(
        this.step('affinity', fragment, pid, `pid ${pid}: every thread to cpus ${cpus.join(',')}`, () =>
          setProcessAffinity(pid, cpus, this.opts.procRoot),
        ),
      );
    this.affinityDone_ms = performance.now();
    const mems = this.opts.hostMems.has(node) ? [node] : undefined;
    const g = this.opts.groups;
    if (g) {
      steps.push(
        this.step(
          'cpuset',
          fragment,
          undefined,
          `group ${fragment}: cpus ${cpus.join(',')} mems ${mems ? node : `(parent's: node ${node} is not a memory node of this host)`}`,
          () => g.ensure(fragment, cpus, mems),
        ),
      );
      for (const pid of pids)
        steps.push(this.step('cpuset', fragment, pid, `move pid ${pid} into ${fragment}`, () => g.move(pid, fragment)));
    }
    return steps;
  }

  /** Re-place: pin on the new node, then move the pages that live on the old one. */
  migrate(fragment: string, pids: readonly number[], from: number, to: number, cpus: readonly number[]): Step[] {
    const steps = this.pin(fragment, pids, to, cpus);
    if (!this.opts.migrateMemory) return steps;
    if (!this.opts.hostMems.has(from) || !this.opts.hostMems.has(to) || from === to) return steps;
    for (const pid of pids)
      steps.push(
        this.step('migrate_pages', fragment, pid, `pid ${pid}: pages node ${from} → node ${to}`, () =>
          migratePages(pid, [from], [to]),
        ),
      );
    return steps;
  }

  /** The fragment is gone: remove its (now empty) group. */
  remove(fragment: string): Step[] {
    const g = this.opts.groups;
    if (!g) return [];
    return [this.step('cgroup_remove', fragment, undefined, `remove group ${fragment}`, () => g.remove(fragment))];
  }

  private step(op: Step['op'], fragment: string, pid: number | undefined, detail: string, act: () => unknown): Step {
    const s: Step = { op, fragment, ok: true, dry_run: !this.opts.enforce, detail };
    if (pid !== undefined) s.pid = pid;
    if (!this.opts.enforce && op !== 'cpuset' && op !== 'cgroup_remove') return s;
    try {
      act(); // CpusetGroups in dry-run mode only plans
    } catch (e) {
      s.ok = false;
      s.error = (e as Error).message;
      if (isGone(e)) s.gone = true;
      // The last threads of an exited process leave its group a little after the leader.
      if (op === 'cgroup_remove' && e instanceof CpusetError && e.code === 'EBUSY') s.retry = true;
    }
    return s;
  }
}

/** ESRCH from a syscall, or the kernel refusing a pid that no longer exists in cgroup.procs. */
function isGone(e: unknown): boolean {
  if (e instanceof SyscallError) return e.code === 'ESRCH';
  if (e instanceof CpusetError) return e.code === 'ESRCH' || /ESRCH|No such process/.test(e.message);
  return false;
}
