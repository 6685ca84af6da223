/**
 * Host roots: where every live reader finds the host's /sys, /proc and cgroup hierarchy.
 *
 * `--fs-root DIR` makes every reader treat DIR as `/` (as hwloc's HWLOC_FSROOT does), so a dump of
 * another machine — DIR/sys, DIR/proc and its cgroup mounts — reads as that machine.
 * `--sysfs-root`, `--procfs-root` and `--cgroup-root` override single parts.
 */
import { statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';

export interface HostRoots {
  /** Stands for /sys. */
  sys: string;
  /** Stands for /proc. */
  proc: string;
  /**
   * The cpuset cgroup hierarchy's mount point (cgroup v2 root, or the v1 `cpuset` hierarchy). Unset:
   * found through proc/mounts as hwloc does, the mount paths taken relative to `fs`.
   */
  cgroup?: string;
  /** Stands for / when a path the host names (a mount point in /proc/mounts) is outside /sys and /proc. Default '/'. */
  fs?: string;
}

export interface RootOptions {
  fsRoot?: string;
  sysfsRoot?: string;
  procfsRoot?: string;
  cgroupRoot?: string;
}

/** The roots to read from; relative directories are made absolute against the working directory. */
export function resolveRoots(opts: RootOptions = {}): HostRoots {
  const fs = resolve(opts.fsRoot || '/');
  const roots: HostRoots = {
    sys: opts.sysfsRoot ? resolve(opts.sysfsRoot) : join(fs, 'sys'),
    proc: opts.procfsRoot ? resolve(opts.procfsRoot) : join(fs, 'proc'),
    fs,
  };
  if (opts.cgroupRoot) roots.cgroup = resolve(opts.cgroupRoot);
  return roots;
}

/** Where a path as the host names it (absolute, e.g. a mount point from /proc/mounts) lies under the roots. */
export function hostPath(roots: HostRoots, p: string): string {
  const norm = posix.normalize(`/${p}`);
  // cgroupfs is mounted under /sys but is not sysfs: it belongs to the machine of the fs root, so a
  // --sysfs-root describing another machine leaves the cgroups (and enforcement) on this host.
  if (norm === '/sys/fs/cgroup' || norm.startsWith('/sys/fs/cgroup/')) return join(roots.fs ?? '/', norm);
  if (norm === '/sys' || norm.startsWith('/sys/')) return join(roots.sys, norm.slice(4));
  if (norm === '/proc' || norm.startsWith('/proc/')) return join(roots.proc, norm.slice(5));
  return join(roots.fs ?? '/', norm);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Every problem that makes the roots unusable: a missing directory, or a sysfs without
 * devices/system. `proc: false` for readers that only need sysfs (the topology: public machine
 * dumps often hold sys/ alone, and hwloc reads them), which then do without what procfs adds.
 */
export function checkRoots(roots: HostRoots, needs: { proc: boolean } = { proc: true }): string[] {
  const problems: string[] = [];
  if (roots.fs !== undefined && !isDir(roots.fs))
    problems.push(`${roots.fs}: fs root is not a directory (--fs-root must name a directory standing for /)`);
  if (!isDir(roots.sys))
    problems.push(
      `${roots.sys}: sysfs root is not a directory (give --fs-root DIR holding sys/ and proc/, or --sysfs-root)`,
    );
  else if (!isDir(join(roots.sys, 'devices/system/cpu')) && !isDir(join(roots.sys, 'devices/system/node'))) {
    problems.push(`${roots.sys}: not a sysfs: neither devices/system/cpu nor devices/system/node exists`);
  }
  if (needs.proc && !isDir(roots.proc))
    problems.push(
      `${roots.proc}: procfs root is not a directory (give --fs-root DIR holding sys/ and proc/, or --procfs-root)`,
    );
  if (roots.cgroup !== undefined && !isDir(roots.cgroup))
    problems.push(`${roots.cgroup}: cgroup root is not a directory`);
  return problems;
}
