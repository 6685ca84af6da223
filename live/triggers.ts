/**
 * PSI triggers (kernel Documentation/accounting/psi.rst, "Monitoring for pressure thresholds"):
 * open <proc>/pressure/<resource> O_RDWR | O_NONBLOCK, write "<some|full> <stall µs> <window µs>"
 * (NUL-terminated, as the psi.rst example does with strlen + 1), then poll() the fd for POLLPRI.
 * The kernel wakes the poller when the stall time within any window exceeds the threshold, at most
 * once per window; POLLERR means the event source is gone; closing the fd removes the trigger.
 *
 * Kernel rules checked here: window 500 ms – 10 s (WINDOW_MIN_US / WINDOW_MAX_US in
 * kernel/sched/psi.c), 0 < stall ≤ window. Without CAP_SYS_RESOURCE (Linux 6.5+ lets such callers
 * create triggers at all) the window must be a multiple of 2 s; the kernel answers EINVAL otherwise.
 *
 * The wait never blocks the event loop: poll() runs through koffi's asynchronous path
 * (`func.async(...args, cb)`, koffi doc/load.md "Asynchronous calls"), i.e. on a libuv thread-pool
 * worker, with a bounded timeout, in a loop. Each trigger also polls an eventfd that close() writes
 * to, so close() wakes the worker at once instead of waiting out the timeout. koffi details relied
 * on: an async call's errno is restored for the duration of its callback only, so `koffi.errno()`
 * must be read inside the callback (koffi src/call.cc AsyncCall::Complete); buffers passed to an
 * async call must not move or change while it runs, so the pollfd array is `koffi.alloc`ed
 * (doc/output.md "Stable pointers") and freed only after the last poll has returned; variadic
 * functions cannot be called asynchronously, so open() is declared with a fixed mode argument (live/libc.ts).
 * Every fd is opened O_CLOEXEC so spawned children never inherit (and keep alive) a trigger.
 *
 * Caveat: each live trigger occupies one libuv thread-pool thread (default UV_THREADPOOL_SIZE = 4,
 * shared with fs, dns and crypto) while its poll is in flight. Keep the number of simultaneous
 * triggers small, or raise UV_THREADPOOL_SIZE.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import type { HostRoots } from '../formats/host/roots.ts';
import { errnoName, type Libc, libc, UnsupportedPlatformError } from './libc.ts';

export type TriggerResource = 'cpu' | 'memory' | 'io';
export type TriggerLine = 'some' | 'full';

export const TRIGGER_RESOURCES: readonly TriggerResource[] = ['cpu', 'memory', 'io'];
/** kernel/sched/psi.c WINDOW_MIN_US / WINDOW_MAX_US. */
export const WINDOW_MIN_US = 500_000;
export const WINDOW_MAX_US = 10_000_000;
/** Without CAP_SYS_RESOURCE the window must be a multiple of this (psi.rst, Linux 6.5+). */
export const UNPRIVILEGED_WINDOW_STEP_US = 2_000_000;

export interface TriggerSpec {
  resource: TriggerResource;
  line: TriggerLine;
  stall_us: number;
  window_us: number;
}

export interface PsiTriggerEvent {
  /** ms since the trigger was armed (performance.now based). */
  t_ms: number;
  resource: TriggerResource;
  line: TriggerLine;
  /** 1 for the first event of this trigger, 2 for the second, … */
  seq: number;
}

export interface TriggerOptions {
  /** Timeout of each poll() on the worker thread, ms (default 1000). Bounds how long a lost wake-up could delay close(). */
  pollTimeoutMs?: number;
  /**
   * Drop POLLPRI events that arrive within this many ms of arming (counted in `dropped`). Default 0.
   * Observed on Linux 6.18 without CAP_SYS_RESOURCE: an avgs-aggregated trigger fires at the first
   * two 2 s aggregation ticks whatever the threshold (its window starts from the rtpoll total, not
   * the avgs one, in psi_trigger_create), then behaves. `2 * window_ms + 2000` hides those.
   */
  settleMs?: number;
  onEvent?: (e: PsiTriggerEvent) => void;
  /** Called once when the loop stops on an error (POLLERR: trigger gone; poll failure). */
  onError?: (e: TriggerError) => void;
}

export class TriggerError extends Error {
  /** errno name ('EINVAL', 'EPERM', …), or 'EGONE' (POLLERR), 'EUNKNOWN'. */
  readonly code: string;
  /** True when triggers cannot be used here at all: the caller should fall back to sampling. */
  readonly unavailable: boolean;
  readonly file: string | undefined;
  constructor(message: string, opts: { code: string; unavailable?: boolean; file?: string }) {
    super(message);
    this.name = 'TriggerError';
    this.code = opts.code;
    this.unavailable = opts.unavailable ?? false;
    this.file = opts.file;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/** The trigger string the kernel parses ("some 150000 1000000"). */
export function triggerString(spec: TriggerSpec): string {
  return `${spec.line} ${spec.stall_us} ${spec.window_us}`;
}

/** Throws RangeError / TypeError naming the bad argument; returns the spec otherwise. */
export function validateTrigger(spec: TriggerSpec): TriggerSpec {
  if (!TRIGGER_RESOURCES.includes(spec.resource)) {
    throw new TypeError(
      `PSI trigger resource '${String(spec.resource)}' is not one of ${TRIGGER_RESOURCES.join(', ')}`,
    );
  }
  if (spec.line !== 'some' && spec.line !== 'full') {
    throw new TypeError(`PSI trigger line '${String(spec.line)}' is not 'some' or 'full'`);
  }
  if (!Number.isSafeInteger(spec.window_us))
    throw new RangeError(`PSI trigger window ${String(spec.window_us)} µs is not an integer`);
  if (spec.window_us < WINDOW_MIN_US || spec.window_us > WINDOW_MAX_US) {
    throw new RangeError(
      `PSI trigger window ${spec.window_us} µs is out of range: the kernel accepts ${WINDOW_MIN_US}–${WINDOW_MAX_US} µs (500 ms – 10 s)`,
    );
  }
  if (!Number.isSafeInteger(spec.stall_us))
    throw new RangeError(`PSI trigger stall ${String(spec.stall_us)} µs is not an integer`);
  if (spec.stall_us <= 0) throw new RangeError(`PSI trigger stall ${spec.stall_us} µs must be positive`);
  if (spec.stall_us > spec.window_us) {
    throw new RangeError(
      `PSI trigger stall ${spec.stall_us} µs exceeds its window ${spec.window_us} µs (stall must be ≤ window)`,
    );
  }
  return spec;
}

/** CAP_SYS_RESOURCE in this process's effective set (from <proc>/self/status); false when unreadable. */
export function hasCapSysResource(procRoot = '/proc'): boolean {
  try {
    const hex = readFileSync(join(procRoot, 'self/status'), 'utf8').match(/^CapEff:\s*([0-9a-f]+)$/m)?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> 24n) & 1n) === 1n; // CAP_SYS_RESOURCE = 24
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Arming a trigger
// ---------------------------------------------------------------------------------------------

const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = O_NONBLOCK;
const EFD_CLOEXEC = O_CLOEXEC;
/** statfs f_type of procfs (include/uapi/linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;
export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

/** libc's bindings; a host without them cannot have triggers (the caller falls back to sampling). */
function getLibc(): Libc {
  try {
    return libc();
  } catch (e) {
    if (!(e instanceof UnsupportedPlatformError)) throw e;
    throw new TriggerError(`PSI triggers unavailable: ${e.message}`, { code: 'ENOSYS', unavailable: true });
  }
}

const UNAVAILABLE_CODES = new Set(['ENOENT', 'ENOTDIR', 'EOPNOTSUPP', 'ENOTSUP']);

function openError(file: string, errno: number): TriggerError {
  const code = errnoName(errno);
  if (UNAVAILABLE_CODES.has(code)) {
    return new TriggerError(
      `PSI triggers unavailable: ${file}: ${code === 'ENOENT' || code === 'ENOTDIR' ? 'no such pressure file (kernel without PSI, psi=0, or not a live procfs)' : 'PSI is disabled'}; fall back to sampling`,
      { code, unavailable: true, file },
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new TriggerError(
      `PSI triggers not permitted: cannot open ${file} for writing (${code}; before Linux 6.5 triggers need root)`,
      {
        code,
        unavailable: true,
        file,
      },
    );
  }
  return new TriggerError(`cannot open ${file} for a PSI trigger: ${code} (errno ${errno})`, { code, file });
}

function writeError(file: string, spec: TriggerSpec, errno: number, procRoot: string): TriggerError {
  const code = errnoName(errno);
  const trig = `'${triggerString(spec)}'`;
  if (code === 'EINVAL') {
    const unpriv = spec.window_us % UNPRIVILEGED_WINDOW_STEP_US !== 0 && !hasCapSysResource(procRoot);
    return new TriggerError(
      unpriv
        ? `kernel rejected PSI trigger ${trig} on ${file} (EINVAL): without CAP_SYS_RESOURCE the window must be a multiple of 2 s (2000000 µs)`
        : `kernel rejected PSI trigger ${trig} on ${file} (EINVAL): bad format, window outside 500 ms – 10 s, or stall above window`,
      { code, file },
    );
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return new TriggerError(
      `PSI trigger ${trig} on ${file} not permitted (${code}): triggers need CAP_SYS_RESOURCE or Linux 6.5+`,
      {
        code,
        unavailable: true,
        file,
      },
    );
  }
  if (UNAVAILABLE_CODES.has(code)) {
    return new TriggerError(
      `PSI triggers unavailable: ${file} does not support triggers (${code}: PSI disabled or kernel older than 5.2); fall back to sampling`,
      {
        code,
        unavailable: true,
        file,
      },
    );
  }
  if (code === 'EBUSY') return new TriggerError(`${file}: this fd already holds a PSI trigger (EBUSY)`, { code, file });
  return new TriggerError(`writing PSI trigger ${trig} to ${file} failed: ${code} (errno ${errno})`, { code, file });
}

/** open + write the trigger; returns the fd or throws TriggerError (nothing left open on failure). */
function arm(roots: HostRoots, spec: TriggerSpec): { fd: number; file: string } {
  const c = getLibc();
  const file = join(roots.proc, 'pressure', spec.resource);
  let fsType: number;
  try {
    fsType = Number(statfsSync(file).type);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    throw openError(file, koffi.os.errno[code] ?? -1);
  }
  if (fsType !== PROC_SUPER_MAGIC) {
    // A dump of another host (--fs-root): never write a trigger string into its files.
    throw new TriggerError(
      `PSI triggers unavailable: ${file} is not on a live procfs (a dump?); fall back to sampling`,
      {
        code: 'ENOTPROC',
        unavailable: true,
        file,
      },
    );
  }
  const fd = c.open(file, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) throw openError(file, koffi.errno());
  const buf = Buffer.from(`${triggerString(spec)}\0`, 'latin1');
  const n = Number(c.write(fd, buf, buf.length));
  if (n < 0) {
    const errno = koffi.errno();
    c.close(fd);
    throw writeError(file, spec, errno, roots.proc);
  }
  return { fd, file };
}

// ---------------------------------------------------------------------------------------------
// The trigger
// ---------------------------------------------------------------------------------------------

export type TriggerEnd = { reason: 'closed' } | { reason: 'error'; error: TriggerError };

export class PsiTrigger {
  readonly spec: Readonly<TriggerSpec>;
  readonly file: string;
  /** Resolves when the poll loop has ended and every fd is closed. Never rejects. */
  readonly done: Promise<TriggerEnd>;
  private fd: number;
  private efd: number;
  private mem: unknown;
  private stopping = false;
  private ended = false;
  private seq = 0;
  /** POLLPRI events dropped because they came within settleMs of arming. */
  dropped = 0;
  private readonly settleMs: number;
  private readonly t0 = performance.now();
  private readonly pollTimeoutMs: number;
  private readonly listeners = new Set<(e: PsiTriggerEvent) => void>();
  private readonly onError: ((e: TriggerError) => void) | undefined;
  private queue: PsiTriggerEvent[] = [];
  private waiters: Array<() => void> = [];
  private endResult: TriggerEnd | undefined;

  /**
   * Validate, open <roots.proc>/pressure/<resource>, write the trigger and start waiting. Throws
   * RangeError/TypeError for bad arguments and TriggerError (with `unavailable` when the host cannot
   * do triggers at all) for kernel refusals.
   */
  static open(
    roots: HostRoots,
    resource: TriggerResource,
    line: TriggerLine,
    stall_us: number,
    window_us: number,
    opts: TriggerOptions = {},
  ): PsiTrigger {
    const spec = validateTrigger({ resource, line, stall_us, window_us });
    const timeout = opts.pollTimeoutMs ?? 1000;
    if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > 60_000) {
      throw new RangeError(`pollTimeoutMs ${String(timeout)} must be an integer 1–60000`);
    }
    const { fd, file } = arm(roots, spec);
    return new PsiTrigger(spec, file, fd, timeout, opts);
  }

  private constructor(spec: TriggerSpec, file: string, fd: number, pollTimeoutMs: number, opts: TriggerOptions) {
    const c = getLibc();
    this.spec = Object.freeze({ ...spec });
    this.file = file;
    this.fd = fd;
    this.pollTimeoutMs = pollTimeoutMs;
    this.onError = opts.onError;
    this.settleMs = opts.settleMs ?? 0;
    if (opts.onEvent) this.listeners.add(opts.onEvent);
    this.efd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.efd < 0) {
      const errno = koffi.errno();
      c.close(fd);
      throw new TriggerError(`eventfd failed: ${errnoName(errno)} (errno ${errno})`, { code: errnoName(errno) });
    }
    this.mem = koffi.alloc(c.pollfd, 2);
    koffi.encode(this.mem, c.pollfds, [
      { fd: this.fd, events: POLLPRI, revents: 0 },
      { fd: this.efd, events: POLLIN, revents: 0 },
    ]);
    this.done = this.loop().then(
      (end) => this.finish(end),
      (e: unknown) =>
        this.finish({
          reason: 'error',
          error:
            e instanceof TriggerError
              ? e
              : new TriggerError(`PSI trigger loop failed: ${String(e)}`, { code: 'EUNKNOWN' }),
        }),
    );
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Subscribe to events; returns the unsubscribe function. */
  on(listener: (e: PsiTriggerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events as an async iterator: ends after close(), throws the TriggerError if the loop failed. */
  async *events(): AsyncGenerator<PsiTriggerEvent, void, undefined> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.endResult) {
        if (this.endResult.reason === 'error') throw this.endResult.error;
        return;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Stop waiting: wakes the in-flight poll through the eventfd, then closes both fds. */
  async close(): Promise<TriggerEnd> {
    if (!this.stopping && !this.ended) {
      this.stopping = true;
      getLibc().write(this.efd, new BigUint64Array([1n]), 8);
    }
    return this.done;
  }

  private pollOnce(): Promise<{ n: number; errno: number }> {
    const c = getLibc();
    return new Promise((resolve, reject) => {
      c.poll.async(this.mem, 2, this.pollTimeoutMs, (err: unknown, n: number) => {
        // errno of the worker's call is only in place during this callback.
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve({ n, errno: n < 0 ? koffi.errno() : 0 });
      });
    });
  }

  private async loop(): Promise<TriggerEnd> {
    const c = getLibc();
    for (;;) {
      if (this.stopping) return { reason: 'closed' };
      const { n, errno } = await this.pollOnce();
      if (this.stopping) return { reason: 'closed' };
      if (n < 0) {
        const code = errnoName(errno);
        if (code === 'EINTR' || code === 'EAGAIN') continue;
        return {
          reason: 'error',
          error: new TriggerError(`poll on ${this.file} failed: ${code} (errno ${errno})`, { code, file: this.file }),
        };
      }
      if (n === 0) continue;
      const [psi] = koffi.decode(this.mem, c.pollfds) as Array<{ revents: number }>;
      const revents = psi?.revents ?? 0;
      if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
        return {
          reason: 'error',
          error: new TriggerError(
            `PSI trigger on ${this.file} is gone (poll revents 0x${revents.toString(16)}: event source removed)`,
            {
              code: 'EGONE',
              file: this.file,
            },
          ),
        };
      }
      if (revents & POLLPRI) {
        const t_ms = performance.now() - this.t0;
        if (t_ms < this.settleMs) this.dropped++;
        else this.emit({ t_ms, resource: this.spec.resource, line: this.spec.line, seq: ++this.seq });
      }
    }
  }

  private emit(e: PsiTriggerEvent): void {
    this.queue.push(e);
    if (this.queue.length > 1024) this.queue.shift(); // nobody iterating: keep the newest only
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure must not stop the trigger
      }
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  private finish(end: TriggerEnd): TriggerEnd {
    const c = getLibc();
    // The last poll has returned: nothing uses the fds or the pollfd memory any more.
    c.close(this.fd);
    c.close(this.efd);
    koffi.free(this.mem);
    this.fd = -1;
    this.efd = -1;
    this.ended = true;
    this.endResult = end;
    if (end.reason === 'error' && this.onError) {
      try {
        this.onError(end.error);
      } catch {
        // ignore
      }
    }
    this.wake();
    return end;
  }
}

// ---------------------------------------------------------------------------------------------
// Availability (so the agent can fall back to sampling)
// ---------------------------------------------------------------------------------------------

export type TriggerAvailability =
  | {
      available: true;
      /** Resources a trigger was armed on (every one of cpu, memory, io). */
      resources: TriggerResource[];
      /** CAP_SYS_RESOURCE: any window 500 ms – 10 s; otherwise multiples of 2 s only. */
      privileged: boolean;
      /** The window step the caller must respect, µs (1 when privileged). */
      window_step_us: number;
    }
  | {
      available: false;
      /** One sentence for the operator; the agent samples pressure files at an interval instead. */
      reason: string;
      code: string;
    };

/**
 * Can PSI triggers be used on `roots`? Arms and at once removes a trigger ("some 500000 2000000",
 * valid with or without privilege) on each of cpu, memory and io.
 */
export function availability(roots: HostRoots): TriggerAvailability {
  const resources: TriggerResource[] = [];
  for (const resource of TRIGGER_RESOURCES) {
    try {
      const { fd } = arm(roots, { resource, line: 'some', stall_us: 500_000, window_us: UNPRIVILEGED_WINDOW_STEP_US });
      getLibc().close(fd);
      resources.push(resource);
    } catch (e) {
      if (e instanceof TriggerError) {
        return {
          available: false,
          code: e.code,
          reason: e.unavailable ? e.message : `PSI triggers unavailable: ${e.message}; fall back to sampling`,
        };
      }
      throw e;
    }
  }
  const privileged = hasCapSysResource(roots.proc);
  return { available: true, resources, privileged, window_step_us: privileged ? 1 : UNPRIVILEGED_WINDOW_STEP_US };
}
