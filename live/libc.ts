/**
 * The one place live/ loads libc (glibc's libc.so.6) through koffi and declares the functions it
 * calls: affinity (live/affinity.ts) and the raw `syscall()` (live/mempolicy.ts), open/write/close/eventfd/poll for PSI
 * triggers (live/triggers.ts), epoll for pidfds (live/pidfd.ts). Loaded on first use, so importing
 * a binding never fails (not on macOS, not without glibc); such hosts get an UnsupportedPlatformError
 * at call time that says what is missing, and each caller decides what that means for it (a
 * TriggerError that falls back to sampling, no exit watching, a failed enforcement).
 *
 * koffi details relied on (koffi 3, doc/misc.md "POSIX error codes", doc/load.md "Variadic
 * functions", "Asynchronous calls"): `lib.func` throws when the symbol is missing; `koffi.os.errno`
 * maps errno names to numbers; a variadic function takes a (type, value) pair of JS arguments for each
 * variadic C argument, and cannot be called asynchronously.
 */
import koffi from 'koffi';

/** This host cannot run the bindings at all (not Linux, no glibc, or an architecture without syscall numbers here). */
export class UnsupportedPlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPlatformError';
  }
}

/** A function koffi may also call on a libuv thread-pool worker: `f.async(...args, callback)`. */
export type AsyncFn = { (...args: unknown[]): unknown; async: (...args: unknown[]) => void };

export interface Libc {
  sched_getaffinity: (pid: number, size: number, mask: BigUint64Array) => number;
  sched_setaffinity: (pid: number, size: number, mask: BigUint64Array) => number;
  /** long syscall(long number, ...): variadic arguments as (type, value) pairs. */
  syscall: (number: number, ...args: unknown[]) => number | bigint;
  open: (path: string, flags: number, mode: number) => number;
  write: (fd: number, buf: Buffer | BigUint64Array, n: number) => number | bigint;
  close: (fd: number) => number;
  eventfd: (initval: number, flags: number) => number;
  poll: AsyncFn;
  epoll_create1: (flags: number) => number;
  epoll_ctl: (epfd: number, op: number, fd: number, event: Buffer | null) => number;
  epoll_wait: (epfd: number, events: Buffer, maxevents: number, timeout_ms: number) => number;
  /** struct pollfd, and an array of two of them (a PSI trigger's fd and its wake-up eventfd). */
  pollfd: ReturnType<typeof koffi.struct>;
  pollfds: ReturnType<typeof koffi.array>;
}

type KoffiLib = ReturnType<typeof koffi.load>;

/** The loaded bindings, or the error loading them gave (kept, so every later call says the same). */
let loaded: Libc | UnsupportedPlatformError | undefined;

/** libc's functions, loaded once; throws UnsupportedPlatformError when libc or one of its symbols is missing. */
export function libc(): Libc {
  loaded ??= load();
  if (loaded instanceof UnsupportedPlatformError) throw loaded;
  return loaded;
}

function load(): Libc | UnsupportedPlatformError {
  if (process.platform !== 'linux') {
    return new UnsupportedPlatformError(`the libc bindings need Linux (this is ${process.platform})`);
  }
  let lib: KoffiLib;
  try {
    lib = koffi.load('libc.so.6');
  } catch (e) {
    return new UnsupportedPlatformError(`cannot load libc.so.6 (glibc): ${(e as Error).message}`);
  }
  try {
    const pollfd = koffi.struct('fgo_pollfd', { fd: 'int', events: 'short', revents: 'short' });
    return {
      sched_getaffinity: declare(lib, 'int sched_getaffinity(int pid, size_t cpusetsize, _Out_ void *mask)'),
      sched_setaffinity: declare(lib, 'int sched_setaffinity(int pid, size_t cpusetsize, void *mask)'),
      syscall: declare(lib, 'long syscall(long number, ...)'),
      // open(2) is variadic in C; koffi cannot call variadic functions asynchronously (not needed
      // here) and passing the mode as a fixed int is ABI-compatible on x86-64 and aarch64.
      open: declare(lib, 'int open(const char *path, int flags, int mode)'),
      write: declare(lib, 'long write(int fd, const void *buf, size_t count)'),
      close: declare(lib, 'int close(int fd)'),
      eventfd: declare(lib, 'int eventfd(unsigned int initval, int flags)'),
      poll: declare(lib, 'int poll(void *fds, unsigned long nfds, int timeout)'),
      epoll_create1: declare(lib, 'int epoll_create1(int flags)'),
      epoll_ctl: declare(lib, 'int epoll_ctl(int epfd, int op, int fd, void *event)'),
      epoll_wait: declare(lib, 'int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
      pollfd,
      pollfds: koffi.array(pollfd, 2),
    };
  } catch (e) {
    return e instanceof UnsupportedPlatformError ? e : new UnsupportedPlatformError(String(e));
  }
}

/** `lib.func(prototype)`, naming the missing symbol when this libc lacks it. */
function declare(lib: KoffiLib, prototype: string): ReturnType<KoffiLib['func']> {
  try {
    return lib.func(prototype);
  } catch (e) {
    throw new UnsupportedPlatformError(`libc.so.6 cannot bind '${prototype}': ${(e as Error).message}`);
  }
}

let errnoNames: Map<number, string> | undefined;
/** The symbolic name of an errno value (EPERM, ESRCH, …), for every koffi binding in live/. */
export function errnoName(n: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(koffi.os.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);
  }
  return errnoNames.get(n) ?? 'EUNKNOWN';
}
