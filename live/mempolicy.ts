/**
 * NUMA memory policy through libc's variadic `syscall()` (set_mempolicy, mbind, migrate_pages,
 * move_pages), which glibc does not wrap. Policy lives in engine/; this only acts, and turns errno
 * into a SyscallError carrying the errno name and the pid.
 *
 * libc is loaded on first use (live/libc.ts), so importing this module never fails (not on macOS, not
 * on an unsupported architecture); such hosts get an UnsupportedPlatformError at call time. A variadic
 * function takes a (type, value) pair of JS arguments for each variadic C argument (koffi 3,
 * doc/load.md "Variadic functions").
 */
import { encodeMask, maskWords } from './bitmask.ts';
import { libc, UnsupportedPlatformError } from './libc.ts';
import { checkIds, checkPid, fail } from './syscall-error.ts';

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
      `no memory-policy syscall numbers for architecture '${arch}' ` +
        `(supported: ${Object.keys(MEMPOLICY_SYSCALLS).join(', ')})`,
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
        ? `mbind of 0x${addr.toString(16)} (+${len}): address not page-aligned, ` +
          `or node list [${nodes.join(',')}] invalid for mode ${mode}`
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
  pages.forEach((p, i) => {
    addrs[i] = BigInt.asUintN(64, p);
  });
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
