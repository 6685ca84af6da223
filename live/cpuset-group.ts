/**
 * What a cpuset group is to the enforcement layer (live/enforce.ts): the actions done on groups, what
 * is read back from one, the options of the layer, the part of the ownership ledger it needs, and
 * the checks on what callers give it (a group name that cannot escape the base or pose as a control
 * file; CPU and node lists in the kernel's list format), each failing as a CpusetError.
 */
import { CpuListError, formatCpuList, parseCpuList } from '../formats/host/cpulist.ts';
import type { HostRoots } from '../formats/host/roots.ts';
import { type CpusetBackend, CpusetError } from './cgroup-backend.ts';

export interface CpusetAction {
  op: 'mkdir' | 'write' | 'rmdir';
  path: string;
  /** The text written (write only). */
  value?: string;
  /** True when only recorded, not done. */
  dryRun: boolean;
}

export interface GroupInfo {
  name: string;
  path: string;
  /** As configured (v1: cpuset.cpus; v2: cpuset.cpus, empty = inherited). */
  cpus: string;
  mems: string;
  /** What the kernel enforces (v1: cpuset.effective_cpus; v2: cpuset.cpus.effective). */
  effectiveCpus: string | undefined;
  effectiveMems: string | undefined;
  pids: number[];
}

export interface CpusetGroupsOptions {
  roots: HostRoots;
  /** Detected from the roots when absent. */
  backend?: CpusetBackend;
  /** Base group, relative to the mount, '/'-separated segments each a valid name. Default 'fgo'. */
  base?: string;
  /** Record every action instead of doing it. */
  dryRun?: boolean;
  /**
   * Which groups are ours (by local path): absent, every group under the base is treated as ours
   * (tests of the mechanics).
   */
  owned?: GroupOwnership;
}

/** The part of the agent's ownership ledger this layer needs. */
export interface GroupOwnership {
  ownsGroup(path: string): boolean;
  addGroup(path: string): void;
  removeGroup(path: string): void;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** A group name: [A-Za-z0-9_.-]{1,64}, not '.' or '..', not a cgroup control file's prefix. Throws CpusetError. */
export function validateGroupName(name: string): string {
  if (
    typeof name !== 'string' ||
    !NAME.test(name) ||
    name === '.' ||
    name === '..' ||
    /^(cgroup|cpuset)\./.test(name)
  ) {
    throw new CpusetError(
      `invalid cpuset group name ${JSON.stringify(name)}: must match [A-Za-z0-9_.-]{1,64}, not be '.' or '..', ` +
        "nor start with 'cgroup.' or 'cpuset.'",
      {
        code: 'EBADNAME',
        op: 'validate',
      },
    );
  }
  return name;
}

/** A CPU or node list in the kernel's list format ('0-3,8'), or a CpusetError naming `what`. */
export function normalizeList(what: string, list: string | readonly number[]): string {
  if (typeof list !== 'string') return formatCpuList(list);
  try {
    return formatCpuList(parseCpuList(list));
  } catch (e) {
    if (e instanceof CpuListError)
      throw new CpusetError(`invalid ${what} list ${JSON.stringify(list)}: ${e.message}`, {
        code: 'EINVAL',
        op: 'validate',
      });
    throw e;
  }
}
