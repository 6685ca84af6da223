/**
 * The CPUs and memory nodes this process may use, as hwloc's Linux backend finds them: the
 * process's cpuset cgroup — its hierarchy found at the standard mount points or through
 * proc/mounts (or proc/self/mountinfo), its path through proc/self/cpuset or proc/self/cgroup;
 * files cpuset.cpus.effective/cpuset.mems.effective (v2), cpuset.cpus/cpuset.mems (v1), cpus/mems
 * (the old cpuset filesystem) — else proc/self/status Cpus_allowed_list/Mems_allowed_list, else
 * everything. Kept apart from the topology reader because finding a cgroup is a subject of its own
 * (three hierarchy kinds, two mount tables, two ways to name the process's cgroup).
 */
import { join, posix } from 'node:path';
import { cleanSysfsText, formatCpuList } from './cpulist.ts';
import { exists, parseList, readList, readText } from './files.ts';
import { readMounts } from './mounts.ts';
import { hostPath, type HostRoots } from './roots.ts';

export type CpusetSource = 'cgroup2' | 'cgroup1' | 'cpuset' | 'status' | 'none';

export interface CpusetInfo {
  /** Where the allowed sets came from: a cpuset cgroup hierarchy, proc/self/status, or nowhere (all allowed). */
  source: CpusetSource;
  /** The process's cgroup path inside the hierarchy, e.g. "/user.slice". */
  cgroup?: string;
  /** The files read, as local paths. */
  cpus_file?: string;
  mems_file?: string;
}

const fmt = formatCpuList;

interface Hierarchy {
  kind: 'cgroup2' | 'cgroup1' | 'cpuset';
  /** Local path of the hierarchy's mount point. */
  mount: string;
}

/** The cpuset hierarchy, found as hwloc finds it: standard mount points first, then the mount table. */
function findHierarchy(roots: HostRoots, warnings: string[]): Hierarchy | undefined {
  if (roots.cgroup !== undefined) {
    const m = roots.cgroup;
    if (exists(join(m, 'cgroup.controllers')) || exists(join(m, 'cpuset.cpus.effective')))
      return { kind: 'cgroup2', mount: m };
    if (exists(join(m, 'cpuset.cpus'))) return { kind: 'cgroup1', mount: m };
    if (exists(join(m, 'cpus'))) return { kind: 'cpuset', mount: m };
    warnings.push(`${m}: --cgroup-root holds no cpuset hierarchy (no cgroup.controllers, cpuset.cpus or cpus)`);
    return undefined;
  }
  if (exists(hostPath(roots, '/sys/fs/cgroup/cpuset.cpus.effective')))
    return { kind: 'cgroup2', mount: hostPath(roots, '/sys/fs/cgroup') };
  if (exists(hostPath(roots, '/sys/fs/cgroup/cpuset/cpuset.cpus')))
    return { kind: 'cgroup1', mount: hostPath(roots, '/sys/fs/cgroup/cpuset') };
  if (exists(hostPath(roots, '/dev/cpuset/cpus'))) return { kind: 'cpuset', mount: hostPath(roots, '/dev/cpuset') };
  for (const m of readMounts(roots)) {
    const local = hostPath(roots, m.dir);
    if (m.type === 'cgroup2') {
      const ctrls = readText(join(local, 'cgroup.controllers'));
      if (ctrls !== undefined && cleanSysfsText(ctrls).split(/\s+/).includes('cpuset'))
        return { kind: 'cgroup2', mount: local };
    } else if (m.type === 'cpuset') {
      return { kind: 'cpuset', mount: local };
    } else if (m.type === 'cgroup' && m.options.includes('cpuset')) {
      // a v1 hierarchy mounted with noprefix emulates the old cpuset filesystem (files cpus, mems)
      return { kind: m.options.includes('noprefix') ? 'cpuset' : 'cgroup1', mount: local };
    }
  }
  return undefined;
}

/** The process's path in the hierarchy: proc/self/cpuset, else the matching proc/self/cgroup line. */
function cgroupPath(roots: HostRoots, kind: Hierarchy['kind']): string | undefined {
  const cpuset = readText(join(roots.proc, 'self/cpuset'));
  const first = cpuset === undefined ? '' : (cleanSysfsText(cpuset).split('\n')[0]?.trim() ?? '');
  if (first.startsWith('/')) return first;
  const cg = readText(join(roots.proc, 'self/cgroup'));
  if (cg === undefined) return undefined;
  let v1: string | undefined;
  let v2: string | undefined;
  for (const line of cg.replace(/\0/g, '').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '') v2 ??= m[2];
    else if ((m[1] as string).split(',').includes('cpuset')) v1 ??= m[2];
  }
  return kind === 'cgroup2' ? (v2 ?? v1) : (v1 ?? v2);
}

/** The allowed sets, each absent when no source gave it (then everything is allowed), and where they came from. */
export interface Allowed {
  cpus?: number[];
  mems?: number[];
  info: CpusetInfo;
}

/** The process's allowed CPUs and memory nodes; anything surprising on the way goes to `warnings`. */
export function readAllowed(roots: HostRoots, warnings: string[]): Allowed {
  const h = findHierarchy(roots, warnings);
  if (h) {
    const path = cgroupPath(roots, h.kind);
    if (path === undefined) {
      warnings.push(
        `cpuset ${h.kind} hierarchy at ${h.mount}, but neither proc/self/cpuset nor proc/self/cgroup names this process's cgroup`,
      );
    } else {
      const names =
        h.kind === 'cgroup2'
          ? ['cpuset.cpus.effective', 'cpuset.mems.effective']
          : h.kind === 'cgroup1'
            ? ['cpuset.cpus', 'cpuset.mems']
            : ['cpus', 'mems'];
      const mount = h.mount.replace(/\/+$/, '') || '/';
      let dir = join(mount, path).replace(/\/+$/, '') || '/';
      if (h.kind === 'cgroup2') {
        // the cpuset files exist only where the controller is enabled: use the nearest ancestor that has them
        while (!exists(join(dir, names[0] as string)) && dir.length > mount.length && dir.startsWith(mount))
          dir = posix.dirname(dir);
      }
      const cpusFile = join(dir, names[0] as string);
      const memsFile = join(dir, names[1] as string);
      const cpus = readList(cpusFile, warnings);
      const mems = readList(memsFile, warnings);
      if (cpus !== undefined || mems !== undefined) {
        if (h.kind !== 'cgroup2') {
          // v1 also keeps the sets the kernel enforces after hotplug; hwloc reads the configured ones — so do we, but say so when they differ
          const prefix = h.kind === 'cgroup1' ? 'cpuset.' : '';
          const effCpus = readList(join(dir, `${prefix}effective_cpus`), warnings);
          const effMems = readList(join(dir, `${prefix}effective_mems`), warnings);
          if (cpus && effCpus && fmt(cpus) !== fmt(effCpus))
            warnings.push(
              `${cpusFile} is ${fmt(cpus)} but ${prefix}effective_cpus is ${fmt(effCpus)}; using ${names[0]} (as hwloc does)`,
            );
          if (mems && effMems && fmt(mems) !== fmt(effMems))
            warnings.push(
              `${memsFile} is ${fmt(mems)} but ${prefix}effective_mems is ${fmt(effMems)}; using ${names[1]} (as hwloc does)`,
            );
        }
        const info: CpusetInfo = { source: h.kind, cgroup: path };
        if (cpus !== undefined) info.cpus_file = cpusFile;
        if (mems !== undefined) info.mems_file = memsFile;
        const out: Allowed = { info };
        if (cpus !== undefined) out.cpus = cpus;
        if (mems !== undefined) out.mems = mems;
        return out;
      }
      warnings.push(`cpuset ${h.kind} hierarchy at ${h.mount}, but ${cpusFile} and ${memsFile} cannot be read`);
    }
  }
  const status = readText(join(roots.proc, 'self/status'));
  if (status !== undefined) {
    const grab = (key: string) => {
      const m = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status.replace(/\0/g, ''));
      if (!m) return undefined;
      const r = parseList(m[1] as string);
      if (r.ok) return r.ids;
      warnings.push(`${join(roots.proc, 'self/status')}: ${key} cannot be parsed (${r.error}); ignored`);
      return undefined;
    };
    const cpus = grab('Cpus_allowed_list');
    const mems = grab('Mems_allowed_list');
    if (cpus !== undefined || mems !== undefined) {
      const out: Allowed = { info: { source: 'status' } };
      if (cpus !== undefined) out.cpus = cpus;
      if (mems !== undefined) out.mems = mems;
      return out;
    }
  }
  return { info: { source: 'none' } };
}
