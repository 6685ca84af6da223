/**
 * Where cpusets can be enforced (cgroup v2 with the cpuset controller, or a v1 cpuset hierarchy),
 * and the error every failed cgroup write becomes: kept apart from live/enforce.ts, which acts on
 * the groups.
 */
import { join } from 'node:path';
import { cleanSysfsText } from '../formats/host/cpulist.ts';
import { exists, readText } from '../formats/host/files.ts';
import { readMounts } from '../formats/host/mounts.ts';
import { hostPath, type HostRoots } from '../formats/host/roots.ts';

// ---------------------------------------------------------------------------------------------
// Backend detection
// ---------------------------------------------------------------------------------------------

export type CpusetBackend =
  | { kind: 'v2'; mount: string }
  /** `prefix` is 'cpuset.' normally, '' for a v1 hierarchy mounted with `noprefix` (files `cpus`, `mems`). */
  | { kind: 'v1'; mount: string; prefix: 'cpuset.' | '' }
  | { kind: 'none'; reason: string };

function controllers(dir: string): string[] {
  const t = readText(join(dir, 'cgroup.controllers'));
  return t === undefined ? [] : cleanSysfsText(t).split(/\s+/).filter(Boolean);
}

/**
 * Where cpusets can be enforced: a cgroup2 mount whose `cgroup.controllers` lists cpuset (on a hybrid
 * host the v2 "unified" mount usually does not, the controller being bound to v1), else a v1 hierarchy
 * mounted with the cpuset option. `roots.cgroup` (--cgroup-root) names the mount outright.
 */
export function detectCpusetBackend(roots: HostRoots): CpusetBackend {
  if (roots.cgroup !== undefined) {
    const m = roots.cgroup;
    if (exists(join(m, 'cgroup.controllers'))) {
      return controllers(m).includes('cpuset')
        ? { kind: 'v2', mount: m }
        : {
            kind: 'none',
            reason: `${m}: cgroup v2 hierarchy without the cpuset controller (cgroup.controllers: ${controllers(m).join(' ') || 'empty'})`,
          };
    }
    if (exists(join(m, 'cpuset.cpus'))) return { kind: 'v1', mount: m, prefix: 'cpuset.' };
    if (exists(join(m, 'cpus')) && exists(join(m, 'cgroup.procs'))) return { kind: 'v1', mount: m, prefix: '' };
    return {
      kind: 'none',
      reason: `${m}: --cgroup-root holds no cpuset hierarchy (no cgroup.controllers, cpuset.cpus or cpus)`,
    };
  }
  const mounts = readMounts(roots);
  if (mounts.length === 0)
    return { kind: 'none', reason: `no mount table under ${roots.proc} (mounts, self/mountinfo)` };
  const seen: string[] = [];
  for (const m of mounts) {
    if (m.type !== 'cgroup2') continue;
    const local = hostPath(roots, m.dir);
    if (controllers(local).includes('cpuset')) return { kind: 'v2', mount: local };
    seen.push(`${m.dir} (cgroup2, no cpuset controller)`);
  }
  for (const m of mounts) {
    if (m.type === 'cgroup' && m.options.includes('cpuset')) {
      return { kind: 'v1', mount: hostPath(roots, m.dir), prefix: m.options.includes('noprefix') ? '' : 'cpuset.' };
    }
    if (m.type === 'cpuset') seen.push(`${m.dir} (legacy cpuset filesystem: no cgroup.procs, not supported)`);
  }
  return { kind: 'none', reason: `no cpuset controller mounted${seen.length ? `; found ${seen.join(', ')}` : ''}` };
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export class CpusetError extends Error {
  /** errno name ('EINVAL', 'ENOSPC', 'ESRCH', …), 'EBADNAME' for a name refused before any I/O, 'EFOREIGN' for a group fgo did not create. */
  readonly code: string;
  readonly path: string | undefined;
  readonly op: 'mkdir' | 'write' | 'rmdir' | 'validate';
  constructor(message: string, opts: { code: string; path?: string; op: CpusetError['op'] }) {
    super(message);
    this.name = 'CpusetError';
    this.code = opts.code;
    this.path = opts.path;
    this.op = opts.op;
  }
}

const ERRNO_TEXT: Record<string, string> = {
  EINVAL: 'Invalid argument',
  ERANGE: 'Numerical result out of range',
  ENOSPC: 'No space left on device',
  ESRCH: 'No such process',
  EBUSY: 'Device or resource busy',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  EROFS: 'Read-only file system',
  EOPNOTSUPP: 'Operation not supported',
};

export function errnoText(e: NodeJS.ErrnoException): string {
  if (e.code && ERRNO_TEXT[e.code]) return ERRNO_TEXT[e.code] as string;
  // Node's message is "ECODE: description, syscall path"
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
  return m ? (m[1] as string) : e.message;
}
