/**
 * Per-process readers for the live agent: the pids under /proc, and a process's stat, status and
 * numa_maps (with the share of its pages local to a node).
 *
 * Pure parsers take the text and a file name (used only in errors); thin wrappers read through
 * HostRoots. Per-process readers return `{ gone: true }` when the process exited between listing
 * and reading (ENOENT/ESRCH) — the normal race on a live host — and throw HostFileError, naming the
 * file and the problem, for anything else.
 */
import { join } from 'node:path';
import { CpuListError, parseCpuList } from '../formats/host/cpulist.ts';
import { numbered } from '../formats/host/files.ts';
import { contentLines, HostFileError, isGoneCode, parseCount, readHostFile } from './procread.ts';
import type { HostRoots } from '../formats/host/roots.ts';

/** A per-process read: the value, or the process is gone (exited between listing and reading). */
export type PidRead<T> = { gone: false; value: T } | { gone: true; pid: number; file: string; reason: string };

function readPidFile<T>(
  roots: HostRoots,
  pid: number,
  name: string,
  parse: (text: string, file: string) => T,
): PidRead<T> {
  const file = join(roots.proc, String(pid), name);
  const got = readHostFile(file);
  if (!got.ok) {
    if (isGoneCode(got.code))
      return { gone: true, pid, file, reason: `process ${pid} is gone (${got.code} reading ${file})` };
    throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
  }
  return { gone: false, value: parse(got.text, file) };
}

/** The numeric entries of <proc>: the processes at listing time. */
export function listPids(roots: HostRoots): number[] {
  return numbered(roots.proc, '');
}

export interface PidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Ticks (USER_HZ) in user and kernel mode. */
  utime: number;
  stime: number;
  num_threads: number;
  /** Ticks after boot. */
  starttime: number;
  vsize_bytes: number;
  /** Resident pages (× page size for bytes; VmRSS of status gives kB directly). */
  rss_pages: number;
  /** CPU last run on (kernels since 2.2.8). */
  processor?: number;
}

/**
 * /proc/PID/stat. The command name sits in parentheses and may itself hold spaces and
 * parentheses, so fields are counted from the LAST ")": field 3 (state) is the first after it.
 */
export function parsePidStat(text: string, file = '/proc/PID/stat'): PidStat {
  const clean = text.replace(/\0/g, '').trim();
  const open = clean.indexOf('(');
  const close = clean.lastIndexOf(')');
  if (open < 0 || close < open) throw new HostFileError(file, 'no "(comm)" field');
  const pid = parseCount(clean.slice(0, open).trim(), file, 'pid');
  const rest = clean
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[k - 3] is field k (1-based, proc(5)).
  const field = (k: number, name: string) => parseCount(rest[k - 3], file, `field ${k} (${name})`);
  if (rest.length < 22) throw new HostFileError(file, `${rest.length + 2} fields, at least 24 expected`);
  const state = rest[0] as string;
  if (!/^[A-Za-z]$/.test(state)) throw new HostFileError(file, `field 3 (state) "${state}" is not a state letter`);
  const st: PidStat = {
    pid,
    comm: clean.slice(open + 1, close),
    state,
    ppid: field(4, 'ppid'),
    utime: field(14, 'utime'),
    stime: field(15, 'stime'),
    num_threads: field(20, 'num_threads'),
    starttime: field(22, 'starttime'),
    vsize_bytes: field(23, 'vsize'),
    rss_pages: field(24, 'rss'),
  };
  if (rest.length >= 37) st.processor = field(39, 'processor');
  return st;
}

export function readPidStat(roots: HostRoots, pid: number): PidRead<PidStat> {
  return readPidFile(roots, pid, 'stat', parsePidStat);
}

export interface PidStatus {
  name?: string;
  /** The state letter ("S" of "S (sleeping)"). */
  state?: string;
  pid?: number;
  /** Absent for kernel threads and zombies. */
  vm_rss_kb?: number;
  threads?: number;
  cpus_allowed?: number[];
  mems_allowed?: number[];
  /** Every line, value as printed (trimmed). */
  fields: Record<string, string>;
}

export function parsePidStatus(text: string, file = '/proc/PID/status'): PidStatus {
  const fields: Record<string, string> = {};
  for (const line of contentLines(text)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HostFileError(file, `line "${line}" is not "Key: value"`);
    fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  const st: PidStatus = { fields };
  if (fields.Name !== undefined) st.name = fields.Name;
  if (fields.State) st.state = fields.State.split(/\s+/)[0];
  if (fields.Pid !== undefined) st.pid = parseCount(fields.Pid, file, 'Pid');
  if (fields.Threads !== undefined) st.threads = parseCount(fields.Threads, file, 'Threads');
  if (fields.VmRSS !== undefined) {
    const m = /^(\d+)\s*kB$/.exec(fields.VmRSS);
    if (!m) throw new HostFileError(file, `VmRSS "${fields.VmRSS}" is not "N kB"`);
    st.vm_rss_kb = parseCount(m[1], file, 'VmRSS');
  }
  for (const [key, prop] of [
    ['Cpus_allowed_list', 'cpus_allowed'],
    ['Mems_allowed_list', 'mems_allowed'],
  ] as const) {
    const v = fields[key];
    if (v === undefined) continue;
    try {
      st[prop] = parseCpuList(v);
    } catch (e) {
      if (e instanceof CpuListError) throw new HostFileError(file, `${key} "${v}": ${e.message}`);
      throw e;
    }
  }
  return st;
}

export function readPidStatus(roots: HostRoots, pid: number): PidRead<PidStatus> {
  return readPidFile(roots, pid, 'status', parsePidStatus);
}

export interface NumaMaps {
  /** Pages per node, summed over mappings (pages of each mapping's own size). */
  pages_by_node: Record<number, number>;
  /** kB per node: pages × the mapping's kernelpagesize_kB (4 kB when not printed). */
  kb_by_node: Record<number, number>;
  total_pages: number;
  total_kb: number;
  /** Lines (VMAs) read. */
  mappings: number;
}

/**
 * /proc/PID/numa_maps: one VMA per line, "addr policy [key=value | word]…" where N<node>=<pages>
 * counts the VMA's resident pages on that node. Other keys are ignored.
 */
export function parseNumaMaps(text: string, file = '/proc/PID/numa_maps'): NumaMaps {
  const pages: Record<number, number> = {};
  const kb: Record<number, number> = {};
  let mappings = 0;
  for (const line of contentLines(text)) {
    const tokens = line.split(/\s+/);
    if (!/^[0-9a-f]+$/.test(tokens[0] ?? ''))
      throw new HostFileError(file, `line "${line}" does not start with a hex address`);
    mappings++;
    let pageKb = 4;
    const perNode: Array<[number, number]> = [];
    for (const t of tokens.slice(1)) {
      const m = /^N(\d+)=(.*)$/.exec(t);
      if (m)
        perNode.push([
          parseCount(m[1], file, `${tokens[0]} node number`),
          parseCount(m[2], file, `${tokens[0]} N${m[1]}`),
        ]);
      else if (t.startsWith('kernelpagesize_kB='))
        pageKb = parseCount(t.slice(18), file, `${tokens[0]} kernelpagesize_kB`);
    }
    for (const [n, p] of perNode) {
      pages[n] = (pages[n] ?? 0) + p;
      kb[n] = (kb[n] ?? 0) + p * pageKb;
    }
  }
  const sum = (r: Record<number, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { pages_by_node: pages, kb_by_node: kb, total_pages: sum(pages), total_kb: sum(kb), mappings };
}

export function readNumaMaps(roots: HostRoots, pid: number): PidRead<NumaMaps> {
  return readPidFile(roots, pid, 'numa_maps', parseNumaMaps);
}

/**
 * Local-access estimate: the share of the process's resident memory on `node` (the node it runs
 * on), weighted by kB so one 2 MiB huge page outweighs one 4 kB page; equals pages-on-node ÷ all
 * pages when every page is 4 kB. Undefined when nothing is resident.
 */
export function localShare(maps: NumaMaps, node: number): number | undefined {
  if (maps.total_kb === 0) return undefined;
  return (maps.kb_by_node[node] ?? 0) / maps.total_kb;
}

/** Where a process runs (stat's processor → node) and the share of its memory there. */
export function readProcessLocality(
  roots: HostRoots,
  pid: number,
  cpuToNode: ReadonlyMap<number, number>,
): PidRead<{ cpu?: number; node?: number; local_share?: number; maps: NumaMaps }> {
  const st = readPidStat(roots, pid);
  if (st.gone) return st;
  const maps = readNumaMaps(roots, pid);
  if (maps.gone) return maps;
  const cpu = st.value.processor;
  const node = cpu === undefined ? undefined : cpuToNode.get(cpu);
  const value: { cpu?: number; node?: number; local_share?: number; maps: NumaMaps } = { maps: maps.value };
  if (cpu !== undefined) value.cpu = cpu;
  if (node !== undefined) {
    value.node = node;
    const share = localShare(maps.value, node);
    if (share !== undefined) value.local_share = share;
  }
  return { gone: false, value };
}
