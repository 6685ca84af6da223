/**
 * Thin koffi bindings to libc for the enforcement layer: CPU affinity (sched_getaffinity /
 * sched_setaffinity, applied to every thread of a process) and NUMA memory policy (set_mempolicy,
 * migrate_pages, move_pages through libc's variadic `syscall()`). Policy lives in engine/; this
 * only acts, and turns errno into a SyscallError carrying the errno name and the pid.
 *
 * libc is loaded on first use (live/libc.ts), so importing this module never fails (not on macOS, not
 * on an unsupported architecture); such hosts get an UnsupportedPlatformError at call time.
 *
 * koffi detail relied on (koffi 3, doc/misc.md "POSIX error codes"): `koffi.errno()` returns the
 * errno saved right after the last native call.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { errnoName, libc, UnsupportedPlatformError } from './libc.ts';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export class SyscallError extends Error {
  /** errno name ('EPERM', 'ESRCH', 'EINVAL', …), or 'EUNKNOWN' for a number koffi cannot name. */
  readonly code: string;
  readonly errno: number;
  /** The pid (or tid) acted on, when the call concerns one. */
  readonly pid: number | undefined;
  readonly syscall: string;
  constructor(message: string, opts: { code: string; errno: number; pid: number | undefined; syscall: string }) {
    super(message);
    this.name = 'SyscallError';
    this.code = opts.code;
    this.errno = opts.errno;
    this.pid = opts.pid;
    this.syscall = opts.syscall;
  }
}

type Describe = (code: string) => string | undefined;

/** Build the SyscallError for the errno koffi saved after the failed call. */
function fail(syscall: string, pid: number | undefined, describe: Describe, errno = koffi.errno()): SyscallError {
  const code = errnoName(errno);
  const who = pid === undefined ? '' : ` on pid ${pid}`;
  let message = describe(code);
  if (message === undefined) {
    if (code === 'EPERM') message = `not permitted: ${syscall}${who} (needs CAP_SYS_NICE, or the same owner)`;
    else if (code === 'ESRCH') message = `process ${pid ?? '?'} exited (${syscall}: no such process)`;
    else message = `${syscall}${who} failed: ${code} (errno ${errno})`;
  }
  return new SyscallError(message, { code, errno, pid, syscall });
}

// ---------------------------------------------------------------------------------------------
// Bit masks: cpu_set_t and nodemask_t are arrays of unsigned long, bit i in word i/64 at i%64,
// exactly as glibc's CPU_SET (__CPUELT/__CPUMASK) and the kernel's bitmaps lay them out.
// ---------------------------------------------------------------------------------------------

/** Default mask width: glibc's CPU_SETSIZE, and the kernel's usual MAX_NUMNODES ceiling. */
export const MASK_BITS = 1024;

function checkIds(ids: readonly number[], what: string): void {
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0)
      throw new RangeError(`${what} id ${String(id)} is not a non-negative integer`);
  }
}

/** Words needed for `ids`, at least MASK_BITS wide (a multiple of 64 bits). */
function maskWords(ids: readonly number[], minBits = MASK_BITS): number {
  const top = ids.reduce((m, id) => Math.max(m, id), -1);
  return Math.ceil(Math.max(minBits, top + 1) / 64);
}

/** Encode ids as the kernel's bitmap (CPU_SET's layout). Exported for tests. */
export function encodeMask(ids: readonly number[], words = maskWords(ids)): BigUint64Array {
  const mask = new BigUint64Array(words);
  for (const id of ids) {
    const w = Math.floor(id / 64);
    if (w >= words) throw new RangeError(`id ${id} does not fit a ${words * 64}-bit mask`);
    mask[w] = mask[w]! | (1n << BigInt(id % 64));
  }
  return mask;
}

/** Decode a kernel bitmap into sorted ids. Exported for tests. */
export function decodeMask(mask: BigUint64Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < mask.length; w++) {
    let word = mask[w]!;
    for (let b = 0; word !== 0n; b++, word >>= 1n) if (word & 1n) out.push(w * 64 + b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Affinity
// ---------------------------------------------------------------------------------------------

function checkPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid < 0 || pid > 0x7fffffff)
    throw new RangeError(`pid ${String(pid)} is not a valid pid`);
}

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

// ---------------------------------------------------------------------------------------------
// Memory policy (raw syscalls)
// ---------------------------------------------------------------------------------------------

/** Modes of include/uapi/linux/mempolicy.h. */
export const MPOL_DEFAULT = 0;
export const MPOL_PREFERRED = 1;
export const MPOL_BIND = 2;
export const MPOL_INTERLEAVE = 3;
export const MPOL_LOCAL = 4;
/** move_pages flags (include/uapi/linux/mempolicy.h). */
export const MPOL_MF_MOVE = 1 << 1;
export const MPOL_MF_MOVE_ALL = 1 << 2;

export interface MempolicySyscalls {
  mbind: number;
  set_mempolicy: number;
  migrate_pages: number;
  move_pages: number;
}

/**
 * Syscall numbers, verified against the kernel sources:
 * - x86-64: arch/x86/entry/syscalls/syscall_64.tbl (torvalds/linux) — "237 common mbind",
 *   "238 common set_mempolicy", "256 common migrate_pages", "279 64 move_pages"; same as this
 *   machine's /usr/include/x86_64-linux-gnu/asm/unistd_64.h.
 * - aarch64 (asm-generic table): include/uapi/asm-generic/unistd.h (torvalds/linux) —
 *   "__NR_mbind 235", "__NR_set_mempolicy 237", "__NR_migrate_pages 238", "__NR_move_pages 239"
 *   (236 is get_mempolicy).
 */
export const MEMPOLICY_SYSCALLS: Readonly<Record<string, MempolicySyscalls>> = {
  x64: { mbind: 237, set_mempolicy: 238, migrate_pages: 256, move_pages: 279 },
  arm64: { mbind: 235, set_mempolicy: 237, migrate_pages: 238, move_pages: 239 },
};

/** The numbers for `arch` (Node's process.arch names); throws UnsupportedPlatformError elsewhere. */
export function mempolicySyscalls(arch: string = process.arch): MempolicySyscalls {
  const nums = MEMPOLICY_SYSCALLS[arch];
  if (!nums) {
    throw new UnsupportedPlatformError(
      `no memory-policy syscall numbers for architecture '${arch}' (supported: ${Object.keys(MEMPOLICY_SYSCALLS).join(', ')})`,
    );
  }
  return nums;
}

/** A nodemask and the `maxnode` to pass with it: the kernel reads maxnode - 1 bits (mm/mempolicy.c get_nodes). */
function nodemask(nodes: readonly number[], words: number): { mask: BigUint64Array; maxnode: number } {
  const mask = encodeMask(nodes, words);
  return { mask, maxnode: words * 64 + 1 };
}

function ret(v: number | bigint): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

/**
 * set_mempolicy(2) for the calling thread: `mode` (MPOL_*, optionally OR-ed with mode flags) over
 * `nodes` (empty for MPOL_DEFAULT and MPOL_LOCAL).
 */
export function setMempolicy(mode: number, nodes: readonly number[]): void {
  checkIds(nodes, 'node');
  const nr = mempolicySyscalls().set_mempolicy;
  const c = libc();
  const { mask, maxnode } = nodemask(nodes, maskWords(nodes));
  const empty = nodes.length === 0;
  const r = ret(c.syscall(nr, 'long', mode, 'void *', empty ? null : mask, 'unsigned long', empty ? 0 : maxnode));
  if (r !== 0) {
    throw fail('set_mempolicy', undefined, (code) =>
      code === 'EINVAL'
        ? `node list [${nodes.join(',')}] invalid for mode ${mode} (empty where nodes are required, nodes given to ` +
          'MPOL_DEFAULT, or no node allowed by the cpuset)'
        : undefined,
    );
  }
}

/**
 * mbind(2): set the memory policy of the range [addr, addr + len) of THIS process (page-aligned
 * `addr`), e.g. to bind a buffer the agent allocates to the node it serves. `flags` may hold
 * MPOL_MF_MOVE to move pages already there. Other processes' pages move with migrate_pages.
 */
export function mbind(addr: bigint, len: number, mode: number, nodes: readonly number[], flags = 0): void {
  checkIds(nodes, 'node');
  if (!Number.isSafeInteger(len) || len <= 0) throw new RangeError(`mbind: length ${len} must be a positive integer`);
  const nr = mempolicySyscalls().mbind;
  const c = libc();
  const { mask, maxnode } = nodemask(nodes, maskWords(nodes));
  const empty = nodes.length === 0;
  const r = ret(
    c.syscall(
      nr,
      'unsigned long',
      addr,
      'unsigned long',
      len,
      'long',
      mode,
      'void *',
      empty ? null : mask,
      'unsigned long',
      empty ? 0 : maxnode,
      'unsigned long',
      flags,
    ),
  );
  if (r !== 0) {
    throw fail('mbind', undefined, (code) =>
      code === 'EINVAL'
        ? `mbind of 0x${addr.toString(16)} (+${len}): address not page-aligned, or node list [${nodes.join(',')}] invalid for mode ${mode}`
        : code === 'EFAULT'
          ? `mbind of 0x${addr.toString(16)} (+${len}): part of the range is not mapped`
          : undefined,
    );
  }
}

/**
 * migrate_pages(2): move the pages of `pid` that sit on `fromNodes` to `toNodes`. Returns the number
 * of pages that could not be moved (0 = everything moved).
 */
export function migratePages(pid: number, fromNodes: readonly number[], toNodes: readonly number[]): number {
  checkPid(pid);
  checkIds(fromNodes, 'node');
  checkIds(toNodes, 'node');
  const nr = mempolicySyscalls().migrate_pages;
  const c = libc();
  const words = maskWords([...fromNodes, ...toNodes]);
  const from = nodemask(fromNodes, words);
  const to = nodemask(toNodes, words);
  const r = ret(c.syscall(nr, 'long', pid, 'unsigned long', from.maxnode, 'void *', from.mask, 'void *', to.mask));
  if (r < 0) {
    throw fail('migrate_pages', pid, (code) =>
      code === 'EINVAL'
        ? `node lists [${fromNodes.join(',')}] → [${toNodes.join(',')}] invalid for migrate_pages on pid ${pid}`
        : code === 'EPERM'
          ? `not permitted: migrate_pages on pid ${pid} (needs CAP_SYS_NICE, or the same owner)`
          : undefined,
    );
  }
  return r;
}

/**
 * move_pages(2), minimal: for each address in `pages` (of process `pid`, 0 = this process) move it to
 * the matching entry of `nodes`, or with `nodes` null just report where each page is. Returns the
 * per-page status: a node id, or a negative errno (e.g. -14 EFAULT for an unmapped address).
 */
export function movePages(
  pid: number,
  pages: readonly bigint[],
  nodes: readonly number[] | null,
  flags = MPOL_MF_MOVE,
): number[] {
  checkPid(pid);
  if (nodes !== null) {
    if (nodes.length !== pages.length)
      throw new RangeError(`move_pages: ${pages.length} pages but ${nodes.length} nodes`);
    checkIds(nodes, 'node');
  }
  const nr = mempolicySyscalls().move_pages;
  const c = libc();
  const count = pages.length;
  const addrs = new BigUint64Array(Math.max(1, count));
  pages.forEach((p, i) => (addrs[i] = BigInt.asUintN(64, p)));
  const nodeArr = nodes === null ? null : Int32Array.from(nodes);
  const status = new Int32Array(Math.max(1, count));
  const r = ret(
    c.syscall(
      nr,
      'long',
      pid,
      'unsigned long',
      count,
      'void *',
      addrs,
      'void *',
      nodeArr,
      'void *',
      status,
      'long',
      flags,
    ),
  );
  if (r < 0) {
    throw fail('move_pages', pid, (code) =>
      code === 'ENODEV'
        ? `move_pages on pid ${pid}: a target node [${(nodes ?? []).join(',')}] is offline`
        : code === 'EINVAL'
          ? `move_pages on pid ${pid}: invalid flags ${flags} or page list`
          : undefined,
    );
  }
  return Array.from(status.subarray(0, count));
}
