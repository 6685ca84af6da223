/**
 * Memory figures: /proc/meminfo and each node's node<N>/meminfo under sysfs, in kB. Pure parsers take
 * the text and a file name (used only in errors); the node reader goes through HostRoots and reports
 * a node it cannot read as a warning.
 */
import { join } from 'node:path';
import { numbered } from '../formats/host/files.ts';
import { contentLines, HostFileError, parseCount, readHostFile } from './procread.ts';
import type { HostRoots } from '../formats/host/roots.ts';

/** "Key: value [kB]" lines → numbers (kB where the unit is kB, plain counts otherwise). */
function parseMeminfoLines(
  text: string,
  file: string,
  prefix?: RegExp,
  expectNode?: number,
): { values: Record<string, number>; node?: number } {
  const values: Record<string, number> = {};
  let node: number | undefined;
  for (let line of contentLines(text)) {
    if (prefix) {
      const m = prefix.exec(line);
      if (!m) throw new HostFileError(file, `line "${line}" does not start with "Node N"`);
      const n = parseCount(m[1], file, 'node number');
      if (node === undefined) node = n;
      if (n !== node || (expectNode !== undefined && n !== expectNode))
        throw new HostFileError(file, `line "${line}" is for node ${n}, expected ${expectNode ?? node}`);
      line = line.slice(m[0].length);
    }
    const m = /^([A-Za-z0-9_()]+):\s*(\S+)(?:\s+(\S+))?$/.exec(line);
    if (!m) throw new HostFileError(file, `line "${line}" is not "Key: value [kB]"`);
    const [, key, raw, unit] = m;
    if (unit !== undefined && unit !== 'kB') throw new HostFileError(file, `${key}: unit "${unit}" is not kB`);
    values[key as string] = parseCount(raw, file, key as string); // group 1 always matches
  }
  return node === undefined ? { values } : { values, node };
}

export interface NodeMeminfo {
  node: number;
  mem_total_kb: number;
  /** NodeObservation.mem_free_kb. */
  mem_free_kb: number;
  /** Every line, kB (or a count for HugePages_*). */
  values: Record<string, number>;
}

/** /sys/devices/system/node/node<N>/meminfo: "Node N MemFree: X kB" lines. */
export function parseNodeMeminfo(text: string, file = 'node meminfo', expectNode?: number): NodeMeminfo {
  const { values, node } = parseMeminfoLines(text, file, /^Node\s+(\d+)\s+/, expectNode);
  if (node === undefined) throw new HostFileError(file, 'empty');
  for (const k of ['MemTotal', 'MemFree']) if (values[k] === undefined) throw new HostFileError(file, `no ${k} line`);
  return { node, mem_total_kb: values.MemTotal as number, mem_free_kb: values.MemFree as number, values };
}

/** /proc/meminfo: "MemFree: X kB" lines → kB (HugePages_* as counts). */
export function parseMeminfo(text: string, file = '/proc/meminfo'): Record<string, number> {
  const { values } = parseMeminfoLines(text, file);
  for (const k of ['MemTotal', 'MemFree']) if (values[k] === undefined) throw new HostFileError(file, `no ${k} line`);
  return values;
}

/**
 * Every node<N>/meminfo under <sys>/devices/system/node. A node that vanished between listing and
 * reading (memory hot-unplug) is left out with a warning; a machine without NUMA has no node
 * directories, hence no entries (read /proc/meminfo instead).
 */
export function readNodeMeminfo(roots: HostRoots): { nodes: NodeMeminfo[]; warnings: string[] } {
  const dir = join(roots.sys, 'devices/system/node');
  const nodes: NodeMeminfo[] = [];
  const warnings: string[] = [];
  for (const n of numbered(dir, 'node')) {
    const file = join(dir, `node${n}`, 'meminfo');
    const got = readHostFile(file);
    if (!got.ok) {
      if (got.code === 'ENOENT') {
        warnings.push(`${file}: vanished while reading (node offlined); node ${n} left out`);
        continue;
      }
      throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
    }
    nodes.push(parseNodeMeminfo(got.text, file, n));
  }
  return { nodes, warnings };
}
