/**
 * The host's mount table, read once for everyone who needs to find a filesystem (the cpuset
 * hierarchy for the topology reader, the cgroup mount for enforcement): /proc/mounts, else
 * /proc/self/mountinfo, under the configured roots.
 */
import { join } from 'node:path';
import { readText } from './files.ts';
import type { HostRoots } from './roots.ts';

/** Decode the octal escapes of /proc/mounts and mountinfo (\040 is a space). */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface MountEntry {
  dir: string;
  type: string;
  options: string[];
}

export function readMounts(roots: HostRoots): MountEntry[] {
  const mounts = readText(join(roots.proc, 'mounts'));
  if (mounts !== undefined) {
    return mounts.split('\n').flatMap((line) => {
      const f = line.replace(/\0/g, '').trim().split(/\s+/);
      return f.length >= 4
        ? [{ dir: unescapeMount(f[1] as string), type: f[2] as string, options: (f[3] as string).split(',') }]
        : [];
    });
  }
  // mountinfo: "36 35 98:0 /root /mnt/point rw,noatime shared:1 - cgroup cgroup rw,cpuset"
  const info = readText(join(roots.proc, 'self/mountinfo'));
  if (info === undefined) return [];
  return info.split('\n').flatMap((line) => {
    const [pre, post] = line.replace(/\0/g, '').split(' - ');
    if (pre === undefined || post === undefined) return [];
    const a = pre.trim().split(/\s+/);
    const b = post.trim().split(/\s+/);
    if (a.length < 6 || b.length < 1) return [];
    return [
      {
        dir: unescapeMount(a[4] as string),
        type: b[0] as string,
        options: [...(a[5] as string).split(','), ...(b[2] ?? '').split(',')],
      },
    ];
  });
}
