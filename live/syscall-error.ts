/**
 * How the libc bindings (live/affinity.ts, live/mempolicy.ts) check their arguments and report a
 * failed call: a SyscallError carrying the errno name, the pid and the syscall, with a message that
 * says what the errno means for that call.
 *
 * koffi detail relied on (koffi 3, doc/misc.md "POSIX error codes"): `koffi.errno()` returns the
 * errno saved right after the last native call.
 */
import koffi from 'koffi';
import { errnoName } from './libc.ts';

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
export function fail(
  syscall: string,
  pid: number | undefined,
  describe: Describe,
  errno = koffi.errno(),
): SyscallError {
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

/** A pid (or tid) the kernel can take: throws RangeError otherwise. */
export function checkPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid < 0 || pid > 0x7fffffff)
    throw new RangeError(`pid ${String(pid)} is not a valid pid`);
}

/** CPU or node ids: non-negative integers, or RangeError naming `what`. */
export function checkIds(ids: readonly number[], what: string): void {
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0)
      throw new RangeError(`${what} id ${String(id)} is not a non-negative integer`);
  }
}
