/**
 * PSI triggers (kernel Documentation/accounting/psi.rst, "Monitoring for pressure thresholds"):
 * open <proc>/pressure/<resource> O_RDWR | O_NONBLOCK, write "<some|full> <stall µs> <window µs>"
 * (NUL-terminated, as the psi.rst example does with strlen + 1), then poll() the fd for POLLPRI.
 * The kernel wakes the poller when the stall time within any window exceeds the threshold, at most
 * once per window; POLLERR means the event source is gone; closing the fd removes the trigger.
 *
 * The kernel's rules for a trigger are checked in live/trigger-spec.ts, the open and write (and what
 * each refusal means) are in live/trigger-arm.ts; this file waits for the events.
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
 * POLL* and EFD_* below are the values of <poll.h> and <sys/eventfd.h> on Linux.
 *
 * Caveat: each live trigger occupies one libuv thread-pool thread (default UV_THREADPOOL_SIZE = 4,
 * shared with fs, dns and crypto) while its poll is in flight. Keep the number of simultaneous
 * triggers small, or raise UV_THREADPOOL_SIZE.
 */
import koffi from 'koffi';
import type { HostRoots } from '../formats/host/roots.ts';
import { errnoName } from './libc.ts';
import { arm, O_CLOEXEC, O_NONBLOCK, triggerLibc } from './trigger-arm.ts';
import {
  TRIGGER_RESOURCES,
  TriggerError,
  type TriggerLine,
  type TriggerOptions,
  type TriggerResource,
  type TriggerSpec,
  type PsiTriggerEvent,
  UNPRIVILEGED_WINDOW_STEP_US,
  hasCapSysResource,
  validateTrigger,
} from './trigger-spec.ts';

/** eventfd(2) takes the O_ flag values (EFD_NONBLOCK = O_NONBLOCK, EFD_CLOEXEC = O_CLOEXEC). */
const EFD_NONBLOCK = O_NONBLOCK;
const EFD_CLOEXEC = O_CLOEXEC;
const POLLIN = 0x001;
const POLLPRI = 0x002;
const POLLERR = 0x008;
const POLLHUP = 0x010;
const POLLNVAL = 0x020;

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
  private readonly settle_ms: number;
  private readonly t0 = performance.now();
  private readonly poll_timeout_ms: number;
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
    const timeout_ms = opts.pollTimeoutMs ?? 1000;
    if (!Number.isSafeInteger(timeout_ms) || timeout_ms < 1 || timeout_ms > 60_000) {
      throw new RangeError(`pollTimeoutMs ${String(timeout_ms)} must be an integer 1–60000`);
    }
    const { fd, file } = arm(roots, spec);
    return new PsiTrigger(spec, file, fd, timeout_ms, opts);
  }

  private constructor(spec: TriggerSpec, file: string, fd: number, poll_timeout_ms: number, opts: TriggerOptions) {
    const c = triggerLibc();
    this.spec = Object.freeze({ ...spec });
    this.file = file;
    this.fd = fd;
    this.poll_timeout_ms = poll_timeout_ms;
    this.onError = opts.onError;
    this.settle_ms = opts.settleMs ?? 0;
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
      triggerLibc().write(this.efd, new BigUint64Array([1n]), 8);
    }
    return this.done;
  }

  private pollOnce(): Promise<{ n: number; errno: number }> {
    const c = triggerLibc();
    return new Promise((resolve, reject) => {
      c.poll.async(this.mem, 2, this.poll_timeout_ms, (err: unknown, n: number) => {
        // errno of the worker's call is only in place during this callback.
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve({ n, errno: n < 0 ? koffi.errno() : 0 });
      });
    });
  }

  private async loop(): Promise<TriggerEnd> {
    const c = triggerLibc();
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
        if (t_ms < this.settle_ms) this.dropped++;
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
    const c = triggerLibc();
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
      triggerLibc().close(fd);
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
