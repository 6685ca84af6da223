/**
 * CPU affinity through libc (sched_getaffinity / sched_setaffinity), applied to every thread of a
 * process. Policy lives in engine/; this only acts, and turns errno into a SyscallError carrying the
 * errno name and the pid.
 *
 * libc is loaded on first use (live/libc.ts), so importing this module never fails (not on macOS);
 * such hosts get an UnsupportedPlatformError at call time.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { decodeMask, encodeMask, MASK_BITS } from './bitmask.ts';
import { errnoName, libc } from './libc.ts';
import { checkIds, checkPid, fail, SyscallError } from './syscall-error.ts';

/**
 * The CPUs `pid` (a process id, or a thread id; 0 = the calling thread) may run on. Grows the
 * buffer past 1024 CPUs when the kernel's nr_cpu_ids needs it (EINVAL from a too-small mask).
 */
export function sched_getaffinity(pid: number): number[] {
  checkPid(pid);
  const c = libc();
  for (let words = MASK_BITS / 64; ; words *= 2) {
    const mask = new BigUint64Array(words);
    if (c.sched_getaffinity(pid, words * 8, mask) === 0) return decodeMask(mask);
    const errno = koffi.errno();
    // EINVAL here means "mask smaller than the kernel's CPU count": retry wider, up to 2^20 CPUs.
    if (errnoName(errno) !== 'EINVAL' || words >= (1 << 20) / 64) {
      throw fail('sched_getaffinity', pid, () => undefined, errno);
    }
  }
}

/** Restrict `pid` (a process id — which the kernel reads as its main thread — or a thread id) to `cpus`. */
export function sched_setaffinity(pid: number, cpus: readonly number[]): void {
  checkPid(pid);
  checkIds(cpus, 'CPU');
  const mask = encodeMask(cpus);
  if (libc().sched_setaffinity(pid, mask.length * 8, mask) !== 0) {
    throw fail('sched_setaffinity', pid, (code) =>
      code === 'EINVAL'
        ? `CPU list [${cpus.join(',')}] not allowed by the cpuset / empty (sched_setaffinity on pid ${pid}: ` +
          'no listed CPU is online and in the cpuset)'
        : undefined,
    );
  }
}

export interface AffinityResult {
  pid: number;
  cpus: number[];
  /** Threads whose affinity was set, in the order done. */
  applied: number[];
  /** Threads that exited between listing and setting (ESRCH): skipped, not an error. */
  skipped: number[];
}

function listTasks(pid: number, procRoot: string): number[] | undefined {
  try {
    return readdirSync(join(procRoot, String(pid), 'task'))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return undefined;
  }
}

/**
 * Apply `cpus` to every thread of `pid` (listed in procRoot/PID/task). A thread that exits meanwhile
 * is skipped. The task list is read again after each pass and new threads (started by a thread not
 * yet moved, so inheriting the old mask) are set too, for up to `maxPasses` passes.
 */
export function setProcessAffinity(
  pid: number,
  cpus: readonly number[],
  procRoot = '/proc',
  maxPasses = 4,
): AffinityResult {
  checkPid(pid);
  checkIds(cpus, 'CPU');
  const result: AffinityResult = { pid, cpus: [...new Set(cpus)].sort((a, b) => a - b), applied: [], skipped: [] };
  const seen = new Set<number>();
  for (let pass = 0; pass < maxPasses; pass++) {
    const tasks = listTasks(pid, procRoot);
    if (tasks === undefined) {
      if (pass === 0) {
        throw new SyscallError(`process ${pid} exited (no ${join(procRoot, String(pid), 'task')})`, {
          code: 'ESRCH',
          errno: koffi.os.errno.ESRCH ?? 3,
          pid,
          syscall: 'sched_setaffinity',
        });
      }
      break; // the whole process exited after we moved some of it
    }
    const fresh = tasks.filter((t) => !seen.has(t));
    if (fresh.length === 0) break;
    for (const tid of fresh) {
      seen.add(tid);
      try {
        sched_setaffinity(tid, result.cpus);
        result.applied.push(tid);
      } catch (e) {
        if (e instanceof SyscallError && e.code === 'ESRCH') result.skipped.push(tid);
        else if (e instanceof SyscallError) {
          throw new SyscallError(e.message, { code: e.code, errno: e.errno, pid, syscall: e.syscall });
        } else throw e;
      }
    }
  }
  if (result.applied.length === 0 && result.skipped.length > 0) {
    throw new SyscallError(`process ${pid} exited (every thread gone while setting affinity)`, {
      code: 'ESRCH',
      errno: koffi.os.errno.ESRCH ?? 3,
      pid,
      syscall: 'sched_setaffinity',
    });
  }
  return result;
}

/** The affinity of every thread of `pid`, by tid (threads that exit meanwhile are left out). */
export function getProcessAffinity(pid: number, procRoot = '/proc'): Map<number, number[]> {
  checkPid(pid);
  const tasks = listTasks(pid, procRoot);
  if (tasks === undefined) {
    throw new SyscallError(`process ${pid} exited (no ${join(procRoot, String(pid), 'task')})`, {
      code: 'ESRCH',
      errno: koffi.os.errno.ESRCH ?? 3,
      pid,
      syscall: 'sched_getaffinity',
    });
  }
  const out = new Map<number, number[]>();
  for (const tid of tasks) {
    try {
      out.set(tid, sched_getaffinity(tid));
    } catch (e) {
      if (!(e instanceof SyscallError && e.code === 'ESRCH')) throw e;
    }
  }
  return out;
}
