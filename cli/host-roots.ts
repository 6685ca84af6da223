/**
 * The host-root options of every command that reads a host (topology, record, live), declared
 * once: --fs-root, --sysfs-root, --procfs-root and --cgroup-root, resolved by
 * formats/host/roots.ts. A command words a flag's help its own way where it uses the flag
 * differently (live still acts on this host's processes; record reads no cgroup).
 */
import type { Command } from 'commander';
import type { RootOptions } from '../formats/host/roots.ts';

const HELP: Readonly<Required<Record<keyof RootOptions, string>>> = {
  fsRoot: "read DIR as / (as hwloc's HWLOC_FSROOT): DIR/sys, DIR/proc and its cgroup mounts",
  sysfsRoot: 'directory standing for /sys (default: FS_ROOT/sys)',
  procfsRoot: 'directory standing for /proc (default: FS_ROOT/proc)',
  cgroupRoot: 'mount point of the cpuset cgroup hierarchy (default: found through /proc/mounts)',
};

/** Adds the four root options to `cmd` (in this order), with `help` replacing a flag's default wording. */
export function addRootOptions(cmd: Command, help: Partial<Record<keyof RootOptions, string>> = {}): Command {
  const h = { ...HELP, ...help };
  return cmd
    .option('--fs-root <dir>', h.fsRoot)
    .option('--sysfs-root <dir>', h.sysfsRoot)
    .option('--procfs-root <dir>', h.procfsRoot)
    .option('--cgroup-root <dir>', h.cgroupRoot);
}
