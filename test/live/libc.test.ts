/**
 * live/libc.ts: libc is loaded once for every binding in live/, and errno numbers get their names.
 */
import { describe, expect, it } from 'vitest';
import { errnoName, libc } from '../../live/libc.ts';

const linux = describe.skipIf(process.platform !== 'linux');

linux('libc on Linux', () => {
  it('is loaded once: every caller gets the same bindings', () => {
    expect(libc()).toBe(libc());
  });

  it('binds what affinity, mempolicy, triggers and pidfd call', () => {
    const c = libc();
    for (const f of [c.sched_getaffinity, c.sched_setaffinity, c.syscall, c.open, c.write, c.close, c.eventfd])
      expect(typeof f).toBe('function');
    expect(typeof c.poll.async).toBe('function'); // PSI triggers poll on a libuv worker
    for (const f of [c.epoll_create1, c.epoll_ctl, c.epoll_wait]) expect(typeof f).toBe('function');
  });

  it('names errno values as asm-generic/errno-base.h numbers them', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(3)).toBe('ESRCH');
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(1_000_000)).toBe('EUNKNOWN');
  });
});
