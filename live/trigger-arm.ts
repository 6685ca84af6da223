/**
 * Arming a PSI trigger: open <proc>/pressure/<resource> O_RDWR | O_NONBLOCK | O_CLOEXEC (so spawned
 * children never inherit, and keep alive, a trigger) and write the trigger string, NUL-terminated as
 * the psi.rst example does with strlen + 1. Each kernel refusal becomes a TriggerError that says
 * why, with `unavailable` set when the host cannot have triggers at all. Only a live procfs is ever
 * written to: a dump of another host (--fs-root) is refused before opening.
 */
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import type { HostRoots } from '../formats/host/roots.ts';
import { errnoName, type Libc, libc, UnsupportedPlatformError } from './libc.ts';
import {
  hasCapSysResource,
  TriggerError,
  type TriggerSpec,
  triggerString,
  UNPRIVILEGED_WINDOW_STEP_US,
} from './trigger-spec.ts';

const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** statfs f_type of procfs (include/uapi/linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;

/** libc's bindings; a host without them cannot have triggers (the caller falls back to sampling). */
export function triggerLibc(): Libc {
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
      `PSI triggers unavailable: ${file}: ${
        code === 'ENOENT' || code === 'ENOTDIR'
          ? 'no such pressure file (kernel without PSI, psi=0, or not a live procfs)'
          : 'PSI is disabled'
      }; fall back to sampling`,
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
        ? `kernel rejected PSI trigger ${trig} on ${file} (EINVAL): ` +
            'without CAP_SYS_RESOURCE the window must be a multiple of 2 s (2000000 µs)'
        : `kernel rejected PSI trigger ${trig} on ${file} (EINVAL): ` +
            'bad format, window outside 500 ms – 10 s, or stall above window',
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
      `PSI triggers unavailable: ${file} does not support triggers ` +
        `(${code}: PSI disabled or kernel older than 5.2); fall back to sampling`,
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
export function arm(roots: HostRoots, spec: TriggerSpec): { fd: number; file: string } {
  const c = triggerLibc();
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
