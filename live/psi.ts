/**
 * Pressure stall information readers: /proc/pressure/{cpu,memory,io,irq} and cgroup v2
 * `<resource>.pressure` files (kernel Documentation/accounting/psi.rst).
 *
 * The kernel prints, per file, up to two lines
 *     some avg10=1.93 avg60=9.25 avg300=15.30 total=1488194118
 *     full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * with the averages in percent (0–100, two decimals) and `total` the cumulative stall time in µs.
 * The engine works in fractions 0–1 (engine/types.ts `PsiLine`), so averages are divided by 100;
 * `total_us` is kept as printed. A line kind or key this reader does not know is ignored (future
 * kernels may add some); a known line lacking avg10/avg60/avg300/total, or a value that is not a
 * number in range, is an error naming the file. cpu.pressure has no `full` line before 5.13; since
 * then the system-level cpu `full` is printed but undefined and always zero (psi.rst) — either way
 * it is kept exactly as printed, so consumers must not read system cpu `full` as "no stall".
 * `irq` (6.1+, CONFIG_IRQ_TIME_ACCOUNTING) has only a `full` line.
 */
import { join } from 'node:path';
import type { PsiLine, PsiReading, PsiSet, Resource } from '../engine/types.ts';
import { RESOURCES } from '../engine/types.ts';
import { contentLines, HostFileError, readHostFile } from './procread.ts';
import { hostPath, type HostRoots } from '../formats/host/roots.ts';

/** One parsed pressure file: whichever of `some` / `full` it holds. */
export interface PsiFileLines {
  some?: PsiLine;
  full?: PsiLine;
}

const AVG_KEYS = ['avg10', 'avg60', 'avg300'] as const;

/** Percent as printed → fraction; rounded to 12 significant digits so 1.93 % is exactly 0.0193. */
export function percentToFraction(percent: number): number {
  return Number((percent / 100).toPrecision(12));
}

/** Parse the text of one pressure file. `file` only names it in errors. */
export function parsePsiText(text: string, file = '<pressure file>'): PsiFileLines {
  const out: PsiFileLines = {};
  for (const line of contentLines(text)) {
    const [kind, ...pairs] = line.split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue; // a line kind we do not know: ignored
    if (out[kind]) throw new HostFileError(file, `two "${kind}" lines`);
    const values = new Map<string, string>();
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new HostFileError(file, `"${kind}" line: "${pair}" is not key=value`);
      values.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const avg = {} as Record<(typeof AVG_KEYS)[number], number>;
    for (const key of AVG_KEYS) {
      const raw = values.get(key);
      if (raw === undefined) throw new HostFileError(file, `"${kind}" line has no ${key}`);
      if (!/^\d+(\.\d+)?$/.test(raw)) throw new HostFileError(file, `"${kind}" ${key}=${raw}: not a percentage`);
      const pct = Number(raw);
      if (pct > 100) throw new HostFileError(file, `"${kind}" ${key}=${raw}: above 100 %`);
      avg[key] = percentToFraction(pct);
    }
    const total = values.get('total');
    if (total === undefined) throw new HostFileError(file, `"${kind}" line has no total`);
    if (!/^\d+$/.test(total) || !Number.isSafeInteger(Number(total)))
      throw new HostFileError(file, `"${kind}" total=${total}: not a µs count`);
    out[kind] = { avg10: avg.avg10, avg60: avg.avg60, avg300: avg.avg300, total_us: Number(total) };
  }
  return out;
}

/** A resource pressure file as the engine's PsiReading; `some` is required. */
export function parsePsiReading(text: string, file = '<pressure file>'): PsiReading {
  const lines = parsePsiText(text, file);
  if (!lines.some) throw new HostFileError(file, 'no "some" line');
  return lines.full ? { some: lines.some, full: lines.full } : { some: lines.some };
}

export type PressureResult =
  | {
      available: true;
      psi: PsiSet;
      /** irq.pressure's `full` line, where the kernel has it. */
      irq?: PsiLine;
      /** The directory read. */
      dir: string;
    }
  | {
      available: false;
      /** One sentence for the operator: what is missing and what that means. */
      reason: string;
      /** For a cgroup: its directory vanished (the cgroup was removed). */
      gone?: boolean;
    };

function readSet(dir: string, name: (r: string) => string, what: string): PressureResult {
  const psi = {} as PsiSet;
  for (const r of RESOURCES) {
    const file = join(dir, name(r));
    const got = readHostFile(file);
    if (!got.ok) {
      if (got.code === 'ENOENT')
        return {
          available: false,
          reason: `${file}: missing, so ${what} has no ${r} pressure; PSI-driven decisions fall back to utilization`,
        };
      if (got.code === 'EOPNOTSUPP' || got.code === 'ENOTSUP')
        return {
          available: false,
          reason: `${file}: PSI is disabled (psi=0 on the kernel command line, or cgroup.pressure=0); PSI-driven decisions fall back to utilization`,
        };
      throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
    }
    psi[r as Resource] = parsePsiReading(got.text, file);
  }
  const result: PressureResult = { available: true, psi, dir };
  const irqFile = join(dir, name('irq'));
  const irq = readHostFile(irqFile);
  if (irq.ok) {
    const lines = parsePsiText(irq.text, irqFile);
    if (lines.full) result.irq = lines.full;
  }
  return result;
}

/**
 * System-wide pressure from <proc>/pressure. No such directory (kernel before 4.20, CONFIG_PSI=n,
 * or booted with psi=0): `{ available: false, reason }`, so the agent degrades once and says why.
 * A file present but malformed throws HostFileError.
 */
export function readPressure(roots: HostRoots): PressureResult {
  const dir = join(roots.proc, 'pressure');
  const probe = readHostFile(join(dir, 'cpu'));
  if (!probe.ok && probe.code === 'ENOENT' && !readHostFile(join(dir, 'memory')).ok) {
    return {
      available: false,
      reason: `${dir}: not present — this kernel has no PSI (older than 4.20, built without CONFIG_PSI, or booted with psi=0); PSI-driven decisions fall back to utilization`,
    };
  }
  return readSet(dir, (r) => r, 'the system');
}

/** The cgroup v2 mount: roots.cgroup when given, else /sys/fs/cgroup under the roots. */
export function cgroupMount(roots: HostRoots): string {
  return roots.cgroup ?? hostPath(roots, '/sys/fs/cgroup');
}

/**
 * A cgroup v2 group's pressure (`cpu.pressure`, `memory.pressure`, `io.pressure`, `irq.pressure`).
 * `cgroup` is the path inside the hierarchy as /proc/PID/cgroup prints it ("0::/system.slice/x").
 * A group that no longer exists: `{ available: false, gone: true }`.
 */
export function readCgroupPressure(roots: HostRoots, cgroup: string): PressureResult {
  const dir = join(cgroupMount(roots), cgroup);
  const probe = readHostFile(join(dir, 'cgroup.procs'));
  if (!probe.ok && probe.code === 'ENOENT' && !readHostFile(join(dir, 'cpu.pressure')).ok) {
    return { available: false, gone: true, reason: `${dir}: cgroup not found (removed, or not a cgroup v2 directory)` };
  }
  return readSet(dir, (r) => `${r}.pressure`, `cgroup ${cgroup}`);
}

/** The cgroup v2 path of a process from the text of /proc/PID/cgroup (the "0::/path" line), if any. */
export function parseCgroupV2Path(text: string): string | undefined {
  for (const line of contentLines(text)) {
    if (line.startsWith('0::')) return line.slice(3) || '/';
  }
  return undefined;
}
