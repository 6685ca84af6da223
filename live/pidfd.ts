/**
 * Noticing the exit of many managed processes with one syscall per turn. A pidfd (pidfd_open(2),
 * Linux 5.3) refers to one process and never to a later one that reuses its pid, and poll() reports
 * it readable once the process has exited — all of it: a zombie leader whose other threads still
 * run is not exited (pidfd_poll → thread_group_exited in kernel/pid.c). The pidfds sit in one epoll
 * set (level-triggered), so a turn asks with one epoll_wait(…, 0) whose cost grows with the processes
 * that exited, not with those watched. That replaces a signal-0 probe per process per turn and a
 * /proc/PID/stat read per process per scan (the pid + start time check), which at 1,000 managed
 * processes were most of the agent's own CPU time (bench/agent.ts).
 *
 * A process whose pidfd cannot be had (kernel before 5.3, a seccomp filter, out of fds, or it exited
 * first) is not watched here, and the caller checks it the old way. pidfd_open sets O_CLOEXEC, so a
 * spawned child never inherits one.
 */
import { closeSync } from 'node:fs';
import { type Libc, libc, UnsupportedPlatformError } from './libc.ts';

/** pidfd_open's number on every architecture (syscalls added since Linux 5.1 share one table). */
const SYS_PIDFD_OPEN = 434;
const EPOLLIN = 0x1;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
/**
 * struct epoll_event { uint32_t events; epoll_data_t data; }: packed on x86-64 (12 bytes, data at 4),
 * naturally aligned elsewhere (16 bytes, data at 8) — glibc's EPOLL_PACKED. `data` holds the pidfd.
 */
const EVENT_BYTES = process.arch === 'x64' ? 12 : 16;
const DATA_AT = process.arch === 'x64' ? 4 : 8;

/** libc's bindings, or null when libc cannot be loaded here (not Linux/glibc), so nothing is watched. */
function getLibc(): Libc | null {
  try {
    return libc();
  } catch (e) {
    if (e instanceof UnsupportedPlatformError) return null;
    throw e;
  }
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
  private readonly keyOf = new Map<number, string>();
  /** The epoll set of every pidfd; created with the first. */
  private epfd: number | undefined;
  /** Room for one event per watched process, so one call reports every exit. */
  private events = Buffer.alloc(0);

  /**
   * Watch the process `pid` under `key`; false when it cannot be watched. `isSame` is asked after the
   * pidfd is open, so a pid that was reused before the open (the pidfd then names another process)
   * is caught: it should compare the process's start time with the one the caller knows.
   */
  watch(key: string, pid: number, isSame: () => boolean): boolean {
    this.unwatch(key);
    const fd = pidfdOpen(pid);
    if (fd === undefined) return false;
    const c = getLibc() as Libc; // a pidfd was had, so libc loaded
    this.epfd ??= c.epoll_create1(EPOLL_CLOEXEC);
    const ev = Buffer.alloc(EVENT_BYTES);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeInt32LE(fd, DATA_AT);
    if (this.epfd < 0 || !isSame() || c.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, ev) !== 0) {
      closeSync(fd);
      return false;
    }
    this.fds.set(key, fd);
    this.keyOf.set(fd, key);
    if (this.events.length < this.fds.size * EVENT_BYTES) this.events = Buffer.alloc(2 * this.fds.size * EVENT_BYTES);
    return true;
  }

  has(key: string): boolean {
    return this.fds.has(key);
  }

  unwatch(key: string): void {
    const fd = this.fds.get(key);
    if (fd === undefined) return;
    this.fds.delete(key);
    this.keyOf.delete(fd);
    (getLibc() as Libc).epoll_ctl(this.epfd as number, EPOLL_CTL_DEL, fd, null);
    closeSync(fd);
  }

  /** Keys whose process has exited (they stay watched until unwatch). A failed wait (EINTR) reports none: asked again next turn. */
  exited(): string[] {
    if (this.fds.size === 0) return [];
    const ready = (getLibc() as Libc).epoll_wait(this.epfd as number, this.events, this.fds.size, 0);
    const out: string[] = [];
    for (let i = 0; i < ready; i++) {
      const key = this.keyOf.get(this.events.readInt32LE(i * EVENT_BYTES + DATA_AT));
      if (key !== undefined) out.push(key);
    }
    return out;
  }

  /** Close every pidfd and the epoll set. */
  close(): void {
    for (const k of [...this.fds.keys()]) this.unwatch(k);
    if (this.epfd !== undefined && this.epfd >= 0) closeSync(this.epfd);
    this.epfd = undefined;
  }
}
