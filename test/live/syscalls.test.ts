/**
 * The koffi bindings against the real kernel: affinity of spawned children (every thread), errno
 * mapping (ESRCH, EINVAL), and the memory-policy syscalls on this machine's node(s). Linux only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProcessAffinity, sched_getaffinity, sched_setaffinity, setProcessAffinity } from '../../live/affinity.ts';
import { decodeMask, encodeMask } from '../../live/bitmask.ts';
import {
  mbind,
  MEMPOLICY_SYSCALLS,
  mempolicySyscalls,
  migratePages,
  movePages,
  MPOL_BIND,
  MPOL_DEFAULT,
  setMempolicy,
} from '../../live/mempolicy.ts';
import { SyscallError } from '../../live/syscall-error.ts';
import { UnsupportedPlatformError } from '../../live/libc.ts';

const onLinux = process.platform === 'linux';
if (!onLinux) console.warn(`syscalls.test.ts: skipping the live kernel tests, this is ${process.platform}, not Linux`);
const linux = describe.skipIf(!onLinux);

/** The CPUs this test process may use (the cpuset), from /proc/self/status. */
function allowedCpus(): number[] {
  const line = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.*)$/m)?.[1] ?? '';
  return line.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) return [];
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

/** A pid with no /proc entry, taken from just under pid_max. */
function freePid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  for (let pid = max - 1; pid > 1; pid--) if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid');
}

async function started(child: ChildProcess): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child.pid!;
}

function expectSyscallError(fn: () => unknown, code: string, message: RegExp): SyscallError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SyscallError);
    const err = e as SyscallError;
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    return err;
  }
  throw new Error(`expected a SyscallError ${code}`);
}

describe('masks (cpu_set_t layout)', () => {
  it('sets bits as CPU_SET does: bit i of word i/64', () => {
    const m = encodeMask([0, 1, 63, 64, 1023]);
    expect(m.length).toBe(16); // 1024 bits
    expect(m[0]).toBe((1n << 63n) | 3n);
    expect(m[1]).toBe(1n);
    expect(m[15]).toBe(1n << 63n);
    expect(decodeMask(m)).toEqual([0, 1, 63, 64, 1023]);
  });

  it('grows past 1024 CPUs when asked for a higher id', () => {
    const m = encodeMask([4095]);
    expect(m.length).toBe(64);
    expect(decodeMask(m)).toEqual([4095]);
  });
});

describe('syscall numbers', () => {
  it('has the kernel table values for x86-64 and aarch64', () => {
    expect(MEMPOLICY_SYSCALLS.x64).toEqual({ mbind: 237, set_mempolicy: 238, migrate_pages: 256, move_pages: 279 });
    expect(MEMPOLICY_SYSCALLS.arm64).toEqual({ mbind: 235, set_mempolicy: 237, migrate_pages: 238, move_pages: 239 });
  });

  it('refuses another architecture with a clear error (at call time)', () => {
    expect(() => mempolicySyscalls('riscv64')).toThrow(UnsupportedPlatformError);
    expect(() => mempolicySyscalls('riscv64')).toThrow(/no memory-policy syscall numbers for architecture 'riscv64'/);
  });
});

linux('affinity on real processes', () => {
  let sleeper: ChildProcess;
  let threaded: ChildProcess;
  let sleepPid: number;
  let nodePid: number;
  const cpus = allowedCpus();
  const last = cpus[cpus.length - 1]!;

  beforeAll(async () => {
    sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    // a node child: several threads (libuv pool, V8 workers)
    threaded = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    // listen to both now: 'spawn' fires once, soon after spawn() returns
    [sleepPid, nodePid] = await Promise.all([started(sleeper), started(threaded)]);
    // Wait until node has started its threads (libuv pool, V8 workers): a fixed sleep is not
    // enough on a busy machine. Bounded: 30 s, then the test fails on the thread count below.
    for (let waited_ms = 0; waited_ms < 30_000 && readdirSync(`/proc/${nodePid}/task`).length < 2; waited_ms += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(() => {
    sleeper?.kill('SIGKILL');
    threaded?.kill('SIGKILL');
  });

  it('reads the child affinity as the cpuset allows it', () => {
    expect(cpus.length).toBeGreaterThan(0);
    expect(sched_getaffinity(sleepPid)).toEqual(cpus);
    expect(sched_getaffinity(0)).toEqual(cpus);
  });

  it('sets one CPU on every thread, reads it back, then sets the original back', () => {
    const before = sched_getaffinity(sleepPid);
    const res = setProcessAffinity(sleepPid, [last]);
    expect(res.applied).toContain(sleepPid);
    expect(res.skipped).toEqual([]);
    for (const [, got] of getProcessAffinity(sleepPid)) expect(got).toEqual([last]);

    setProcessAffinity(sleepPid, before);
    expect(sched_getaffinity(sleepPid)).toEqual(before);
  });

  it('moves every thread of a multi-threaded process', () => {
    const res = setProcessAffinity(nodePid, [last]);
    expect(res.applied.length).toBeGreaterThan(1);
    const seen = getProcessAffinity(nodePid);
    expect(seen.size).toBeGreaterThan(1);
    for (const [, got] of seen) expect(got).toEqual([last]);
    setProcessAffinity(nodePid, cpus);
    for (const [, got] of getProcessAffinity(nodePid)) expect(got).toEqual(cpus);
  });

  it('walks a given proc root', () => {
    const res = setProcessAffinity(sleepPid, cpus, '/proc/');
    expect(res.applied).toEqual([sleepPid]);
  });

  it('ESRCH for a pid that does not exist, with code and pid on the error', () => {
    const pid = freePid();
    const e1 = expectSyscallError(() => sched_getaffinity(pid), 'ESRCH', new RegExp(`process ${pid} exited`));
    expect(e1.pid).toBe(pid);
    expectSyscallError(() => sched_setaffinity(pid, [0]), 'ESRCH', new RegExp(`process ${pid} exited`));
    const e3 = expectSyscallError(() => setProcessAffinity(pid, [0]), 'ESRCH', new RegExp(`process ${pid} exited`));
    expect(e3.pid).toBe(pid);
  });

  it('EINVAL for an empty CPU list and for a CPU not present (4095)', () => {
    const e = expectSyscallError(
      () => sched_setaffinity(sleepPid, []),
      'EINVAL',
      /CPU list \[\] not allowed by the cpuset \/ empty/,
    );
    expect(e.pid).toBe(sleepPid);
    expectSyscallError(
      () => setProcessAffinity(sleepPid, [4095]),
      'EINVAL',
      /CPU list \[4095\] not allowed by the cpuset/,
    );
    // nothing changed
    expect(sched_getaffinity(sleepPid)).toEqual(cpus);
  });

  it('rejects malformed ids before any call', () => {
    expect(() => sched_setaffinity(sleepPid, [-1])).toThrow(RangeError);
    expect(() => sched_setaffinity(sleepPid, [1.5])).toThrow(RangeError);
    expect(() => sched_getaffinity(-3)).toThrow(RangeError);
  });

  it('migrate_pages of the child from node 0 to node 0 succeeds', () => {
    const notMoved = migratePages(sleepPid, [0], [0]);
    expect(notMoved).toBeGreaterThanOrEqual(0);
  });

  it('migrate_pages reports ESRCH for a pid that does not exist', () => {
    const pid = freePid();
    expectSyscallError(() => migratePages(pid, [0], [0]), 'ESRCH', new RegExp(`process ${pid} exited`));
  });
});

linux('memory policy of this process', () => {
  it('set_mempolicy(MPOL_DEFAULT, []) succeeds', () => {
    expect(() => setMempolicy(MPOL_DEFAULT, [])).not.toThrow();
  });

  it('set_mempolicy(MPOL_DEFAULT, [0]) is EINVAL (DEFAULT takes no nodes)', () => {
    expectSyscallError(() => setMempolicy(MPOL_DEFAULT, [0]), 'EINVAL', /node list \[0\] invalid for mode 0/);
  });

  it('move_pages reports a negative errno for an unmapped address, and nothing for no pages', () => {
    expect(movePages(0, [], null)).toEqual([]);
    const [status] = movePages(0, [0x1000n], null);
    expect(status).toBe(-14); // -EFAULT: no page there
  });
});

linux('mbind (this process, real kernel)', () => {
  // An anonymous page-aligned mapping from libc's mmap, so the range is ours to bind.
  const lib = koffi.load('libc.so.6');
  const mmap = lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
  const munmap = lib.func('int munmap(void *addr, size_t len)');
  const PAGE = 4096,
    LEN = 4 * PAGE,
    PROT_RW = 0x3,
    MAP_PRIVATE_ANON = 0x22;

  it('binds a mapped range to node 0; an unaligned address is EINVAL, an unmapped range EFAULT', () => {
    const p = mmap(null, LEN, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
    const addr = BigInt(koffi.address(p));
    try {
      expect(() => mbind(addr, LEN, MPOL_BIND, [0])).not.toThrow();
      expect(() => mbind(addr, LEN, MPOL_DEFAULT, [])).not.toThrow();
      expect(() => mbind(addr + 1n, PAGE, MPOL_BIND, [0])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      munmap(p, LEN);
    }
    expect(() => mbind(addr, LEN, MPOL_BIND, [0])).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });
});
