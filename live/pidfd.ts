/**
 * Noticing the exit of many managed processes with one syscall per turn. A pidfd (pidfd_open(2),
 * Linux 5.3) refers to one process and never to a later one that reuses its pid, and poll() reports
 * it readable once the process has exited — all of it: a zombie leader whose other threads still
 * run is not exited (pidfd_poll → thread_group_exited in kernel/pid.c). One poll() over every
 * pidfd with a zero timeout replaces a signal-0 probe per process per turn and a /proc/PID/stat read
 * per process per scan (the pid + start time check), which at 1,000 managed processes were most of
 * the agent's own CPU time (bench/agent.ts).
 *
 * A process whose pidfd cannot be had (kernel before 5.3, a seccomp filter, out of fds, or it exited
 * first) is not watched here, and the caller checks it the old way. pidfd_open sets O_CLOEXEC, so a
 * spawned child never inherits one.
 */
import { closeSync } from 'node:fs';
import koffi from 'koffi';

/** pidfd_open's number on every architecture (syscalls added since Linux 5.1 share one table). */
const SYS_PIDFD_OPEN = 434;
/** struct pollfd { int fd; short events; short revents; }: 8 bytes. */
const POLLFD_BYTES = 8;
const POLLIN = 0x1;

interface Libc {
  syscall: (number: number, ...args: unknown[]) => number | bigint;
  poll: (fds: Buffer, nfds: number, timeout_ms: number) => number;
}

/** null: libc cannot be loaded here (not Linux/glibc), so nothing is watched. */
let libc: Libc | null | undefined;

function getLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    const lib = koffi.load('libc.so.6');
    libc = { syscall: lib.func('long syscall(long number, ...)'), poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)') };
  } catch {
    libc = null;
  }
  return libc;
}

/** A pidfd for `pid`, or undefined when none can be had (see the file's comment). */
function pidfdOpen(pid: number): number | undefined {
  const c = getLibc();
  if (!c || !Number.isInteger(pid) || pid <= 0) return undefined;
  const fd = Number(c.syscall(SYS_PIDFD_OPEN, 'int', pid, 'unsigned int', 0));
  return fd >= 0 ? fd : undefined;
}

/** Processes watched for their exit, each under a key (adopt mode: its fragment id). */
export class ExitWatch {
  private readonly fds = new Map<string, number>();
  /** The pollfd array and the key of each entry, rebuilt after the set changed. */
  private pollfds: Buffer | undefined;
  private keys: string[] = [];

  /**
   * Watch the process `pid` under `key`; false when it cannot be watched. `isSame` is asked after the
   * pidfd is open, so a pid that was reused before the open (the pidfd then names another process)
   * is caught: it should compare the process's start time with the one the caller knows.
   */
  watch(key: string, pid: number, isSame: () => boolean): boolean {
    this.unwatch(key);
    const fd = pidfdOpen(pid);
    if (fd === undefined) return false;
    if (!isSame()) {
      closeSync(fd);
      return false;
    }
    this.fds.set(key, fd);
    this.pollfds = undefined;
    return true;
  }

  has(key: string): boolean {
    return this.fds.has(key);
  }

  unwatch(key: string): void {
    const fd = this.fds.get(key);
    if (fd === undefined) return;
    this.fds.delete(key);
    this.pollfds = undefined;
    closeSync(fd);
  }

  /** Keys whose process has exited (they stay watched until unwatch). A failed poll (EINTR) reports none: asked again next turn. */
  exited(): string[] {
    if (this.fds.size === 0) return [];
    const c = getLibc() as Libc; // fds exist, so libc loaded
    if (!this.pollfds) {
      this.keys = [...this.fds.keys()];
      this.pollfds = Buffer.alloc(this.keys.length * POLLFD_BYTES);
      this.keys.forEach((k, i) => {
        (this.pollfds as Buffer).writeInt32LE(this.fds.get(k) as number, i * POLLFD_BYTES);
        (this.pollfds as Buffer).writeInt16LE(POLLIN, i * POLLFD_BYTES + 4);
      });
    }
    const ready = c.poll(this.pollfds, this.keys.length, 0);
    if (ready <= 0) return [];
    const out: string[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.pollfds.readInt16LE(i * POLLFD_BYTES + 6) !== 0) out.push(this.keys[i] as string);
    return out;
  }

  /** Close every pidfd. */
  close(): void {
    for (const k of [...this.fds.keys()]) this.unwatch(k);
  }
}
