/**
 * The host topology reader: NUMA nodes, their CPUs, memory and SLIT distances, the online CPUs,
 * and the CPUs and memory nodes this process may use — read from sysfs, procfs and the cpuset
 * cgroup as the kernel exposes them and as hwloc's Linux backend reads them. One reader serves the
 * live agent (roots = /) and the simulator (`--topology sysfs:DIR`, a dump of another machine).
 *
 * Sources, per part:
 * - nodes: the node<N>/ directories of /sys/devices/system/node, kept if listed in its `online`
 *   file (the kernel removes the directory of an offline node). No node directory at all: a
 *   machine without NUMA, one node 0 holding every CPU, memory from /proc/meminfo.
 * - a node's CPUs: its `cpulist` (else `cpumap`). A CPU claimed by several nodes (broken firmware)
 *   goes to the node its cpu<N>/node<M> link names — the kernel's cpu_to_node(). A present CPU
 *   claimed by no node (x86 drops offline CPUs from node masks) joins the node its link names.
 *   CPUs that are not present (cpu/present, else the cpu<N>/ directories) are left out.
 * - memory: "Node N MemTotal: X kB" of node<N>/meminfo; memory_kb is X exactly (hwloc's
 *   local_memory is X × 1024 bytes, hugepages included).
 * - distances: node<N>/distance, one value per online node in increasing id order; the columns
 *   are matched to node ids through `online`, the node directories or `possible`, whichever has
 *   as many entries as the row. Missing or unusable: 10 local, 20 remote (the kernel's defaults).
 * - online CPUs: cpu/online, else cpu<N>/online ("0" = offline; no file = online), else present.
 * - allowed CPUs/nodes: the process's cpuset cgroup, else proc/self/status, else everything
 *   (cpuset.ts).
 *
 * Files are read as the kernel writes them, with trailing newlines and NUL bytes tolerated.
 * Anything surprising is kept in `warnings`, never silently dropped.
 */
import { join } from 'node:path';
import type { TopologyJson, TopologyNodeJson } from '../../engine/topology.ts';
import { cleanSysfsText, formatCpuList } from './cpulist.ts';
import { readAllowed, type CpusetInfo } from './cpuset.ts';
import { isDir, numbered, parseList, readList, readText } from './files.ts';
import { InputError } from '../errors.ts';
import { checkRoots, type HostRoots } from './roots.ts';

export interface TopologyReadResult {
  topology: TopologyJson;
  /** Everything surprising the reader met and how it was resolved, one sentence each. */
  warnings: string[];
  /** CPUs the kernel reports present (may be offline); undefined when sysfs does not say. */
  present_cpus?: number[];
  /** Node ids in node/possible, when present. */
  possible_nodes?: number[];
  cpuset: CpusetInfo;
  roots: HostRoots;
}

/** kernel: include/linux/topology.h LOCAL_DISTANCE / REMOTE_DISTANCE, used when firmware gives no SLIT. */
const LOCAL_DISTANCE = 10;
const REMOTE_DISTANCE = 20;

const fmt = formatCpuList;

// ---------------------------------------------------------------------------------------------
// The reader.

interface RawNode {
  id: number;
  cpus: number[];
  memory_kb: number;
  /** The distance file's values, unmapped; undefined when missing or unparsable. */
  row?: number[];
}

function parseMemTotalKb(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /MemTotal:\s*(\d+)\s*kB/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The node each CPU's cpu<N>/node<M> link names (the kernel's cpu_to_node), if any. */
function linkedNode(sysCpu: string, cpu: number): number | undefined {
  const nodes = numbered(join(sysCpu, `cpu${cpu}`), 'node');
  return nodes.length === 1 ? nodes[0] : undefined;
}

/** Where the reader looks, and the warnings it collects on the way (in the order met). */
interface Reading {
  roots: HostRoots;
  sysNode: string;
  sysCpu: string;
  warnings: string[];
}

/** The CPUs the kernel knows: present (cpu/present, else the cpu<N>/ directories) and online. */
function readCpus(r: Reading): { present?: number[]; online?: number[] } {
  const { sysCpu, warnings } = r;
  const cpuDirs = numbered(sysCpu, 'cpu').filter((c) => isDir(join(sysCpu, `cpu${c}`)));
  const present = readList(join(sysCpu, 'present'), warnings) ?? (cpuDirs.length ? cpuDirs : undefined);
  let online = readList(join(sysCpu, 'online'), warnings);
  if (online === undefined && cpuDirs.length) {
    online = cpuDirs.filter((c) => {
      const t = readText(join(sysCpu, `cpu${c}`, 'online'));
      return t === undefined || cleanSysfsText(t) !== '0';
    });
  }
  online ??= present;
  return { present, online };
}

interface NodeLists {
  /** The node<N>/ directories. */
  nodeDirs: number[];
  onlineNodes?: number[];
  possibleNodes?: number[];
  hasCpu?: number[];
  hasMemory?: number[];
  /** The nodes read: the node directories that node/online lists. */
  ids: number[];
}

/** The NUMA nodes sysfs lists, and which of them are read. */
function readNodeLists(r: Reading): NodeLists {
  const { sysNode, warnings } = r;
  const nodeDirs = numbered(sysNode, 'node').filter((n) => isDir(join(sysNode, `node${n}`)));
  let onlineNodes = readList(join(sysNode, 'online'), warnings);
  if (onlineNodes !== undefined && onlineNodes.length === 0) {
    warnings.push(`${join(sysNode, 'online')} is empty; ignored`);
    onlineNodes = undefined;
  }
  const possibleNodes = readList(join(sysNode, 'possible'), warnings);
  const hasCpu = readList(join(sysNode, 'has_cpu'), warnings);
  const hasMemory = readList(join(sysNode, 'has_memory'), warnings);

  let ids = nodeDirs;
  if (onlineNodes !== undefined && nodeDirs.length) {
    const on = new Set(onlineNodes);
    const dirSet = new Set(nodeDirs);
    const offlineDirs = nodeDirs.filter((n) => !on.has(n));
    const missing = onlineNodes.filter((n) => !dirSet.has(n));
    if (offlineDirs.length)
      warnings.push(`node directories ${fmt(offlineDirs)} are not in node/online (${fmt(onlineNodes)}); left out`);
    if (missing.length)
      warnings.push(`node/online lists ${fmt(missing)} but sysfs has no directory for them; left out`);
    ids = nodeDirs.filter((n) => on.has(n));
    if (ids.length === 0) {
      warnings.push('no node directory is online; using every node directory');
      ids = nodeDirs;
    }
  }
  return { nodeDirs, onlineNodes, possibleNodes, hasCpu, hasMemory, ids };
}

/** One node<N>/ directory: its CPUs (cpulist, else cpumap), MemTotal and distance row. */
function readNode(r: Reading, id: number, lists: NodeLists): RawNode {
  const { warnings } = r;
  const dir = join(r.sysNode, `node${id}`);
  const listText = readText(join(dir, 'cpulist'));
  const mapText = readText(join(dir, 'cpumap'));
  const list = listText === undefined ? undefined : parseList(listText);
  const map = mapText === undefined ? undefined : parseList(mapText, true);
  if (list && !list.ok) warnings.push(`${join(dir, 'cpulist')}: cannot parse (${list.error})`);
  if (map && !map.ok) warnings.push(`${join(dir, 'cpumap')}: cannot parse (${map.error})`);
  let cpus: number[] = [];
  if (list?.ok) {
    cpus = list.ids;
    if (map?.ok && fmt(map.ids) !== fmt(list.ids))
      warnings.push(
        `node ${id}: cpulist (${fmt(list.ids) || 'empty'}) and cpumap (${fmt(map.ids) || 'empty'}) disagree; using cpulist`,
      );
  } else if (map?.ok) {
    cpus = map.ids;
  } else if (lists.hasCpu?.includes(id)) {
    warnings.push(`node ${id}: in node/has_cpu but neither cpulist nor cpumap can be read`);
  }
  const memKb = parseMemTotalKb(readText(join(dir, 'meminfo')));
  if (memKb === undefined && (lists.hasMemory === undefined || lists.hasMemory.includes(id)))
    warnings.push(`node ${id}: no MemTotal in ${join(dir, 'meminfo')}; memory taken as 0`);
  const node: RawNode = { id, cpus, memory_kb: memKb ?? 0 };
  const distText = readText(join(dir, 'distance'));
  if (distText !== undefined) {
    const clean = cleanSysfsText(distText);
    const values = clean === '' ? [] : clean.split(/\s+/).map(Number);
    if (values.length && values.every((v) => Number.isInteger(v) && v > 0)) node.row = values;
    else warnings.push(`node ${id}: distance '${clean}' is not a row of positive integers`);
  }
  return node;
}

/** Every node read; without NUMA (no node directory), one node 0 with every CPU and all memory. */
function readNodes(r: Reading, lists: NodeLists, cpus: { present?: number[]; online?: number[] }): RawNode[] {
  if (lists.ids.length > 0) return lists.ids.map((id) => readNode(r, id, lists));
  const { roots, warnings } = r;
  const memKb = parseMemTotalKb(readText(join(roots.proc, 'meminfo')));
  if (memKb === undefined) warnings.push(`${join(roots.proc, 'meminfo')}: no MemTotal; memory of node 0 taken as 0`);
  const all = cpus.present ?? cpus.online ?? [];
  if (all.length === 0) warnings.push(`${r.sysCpu}: no present or online CPUs found`);
  return [{ id: 0, cpus: [...all], memory_kb: memKb ?? 0, row: [LOCAL_DISTANCE] }];
}

/** Each CPU's one node: a CPU claimed by several goes to its cpu<N>/node<M> link, else the first. */
function ownerOfEachCpu(r: Reading, raw: readonly RawNode[]): Map<number, number> {
  const claims = new Map<number, number[]>();
  for (const n of raw) {
    for (const c of n.cpus) {
      const list = claims.get(c);
      if (list) list.push(n.id);
      else claims.set(c, [n.id]);
    }
  }
  const owner = new Map<number, number>();
  const overlaps = new Map<string, number[]>();
  for (const [cpu, nodes] of claims) {
    if (nodes.length === 1) {
      owner.set(cpu, nodes[0] as number);
      continue;
    }
    const link = linkedNode(r.sysCpu, cpu);
    const chosen = link !== undefined && nodes.includes(link) ? link : (nodes[0] as number);
    owner.set(cpu, chosen);
    const key = `${fmt(nodes)}→${link !== undefined && nodes.includes(link) ? 'link' : 'first'}`;
    overlaps.set(key, [...(overlaps.get(key) ?? []), cpu]);
  }
  for (const [key, cpus] of overlaps) {
    const [nodes, how] = key.split('→');
    r.warnings.push(
      `CPUs ${fmt(cpus)} are claimed by nodes ${nodes}; each given to ${how === 'link' ? "the node its cpu<N>/node<M> link names (the kernel's cpu_to_node)" : 'the lowest node id (no cpu<N>/node<M> link)'}`,
    );
  }
  return owner;
}

/** Present CPUs no node lists (offline CPUs leave the node masks on x86) join their linked node. */
function joinUnlisted(r: Reading, owner: Map<number, number>, present: readonly number[], nodeIds: Set<number>): void {
  const joined = new Map<number, number[]>();
  for (const cpu of present) {
    if (owner.has(cpu)) continue;
    const link = linkedNode(r.sysCpu, cpu);
    if (link !== undefined && nodeIds.has(link)) {
      owner.set(cpu, link);
      joined.set(link, [...(joined.get(link) ?? []), cpu]);
    }
  }
  for (const [node, cpus] of joined)
    r.warnings.push(
      `CPUs ${fmt(cpus)} are in no node's cpulist but linked to node ${node} (cpu<N>/node${node}); added to it`,
    );
}

/** Gives each node exactly the present CPUs it owns, sorted. */
function assignCpus(r: Reading, raw: RawNode[], owner: ReadonlyMap<number, number>, present?: number[]): void {
  const presentSet = present ? new Set(present) : undefined;
  const byNode = new Map<number, number[]>();
  for (const [cpu, node] of owner) {
    const list = byNode.get(node);
    if (list) list.push(cpu);
    else byNode.set(node, [cpu]);
  }
  for (const n of raw) {
    const mine = byNode.get(n.id) ?? [];
    if (presentSet) {
      const absent = mine.filter((c) => !presentSet.has(c));
      if (absent.length)
        r.warnings.push(
          `node ${n.id}: lists CPUs ${fmt(absent)} that are not present (present: ${fmt(present ?? [])}); left out`,
        );
      n.cpus = mine.filter((c) => presentSet.has(c)).sort((a, b) => a - b);
    } else {
      n.cpus = mine.sort((a, b) => a - b);
    }
  }
}

/** The distance rows' columns mapped to node ids; the kernel's defaults where they cannot be. */
function distanceMatrix(r: Reading, raw: readonly RawNode[], lists: NodeLists): number[][] {
  const { warnings } = r;
  const { onlineNodes, nodeDirs, possibleNodes } = lists;
  const order = raw.map((n) => n.id);
  let matrix: number[][] | undefined;
  if (raw.every((n) => n.row !== undefined)) {
    const len = (raw[0] as RawNode).row?.length ?? 0;
    if (raw.every((n) => n.row?.length === len)) {
      const candidates: [string, number[] | undefined][] = [
        ['node/online', onlineNodes],
        ['the node directories', nodeDirs],
        ['node/possible', possibleNodes],
        ['the nodes read', order],
      ];
      const hit = candidates.find(
        ([, c]) => c !== undefined && c.length === len && order.every((id) => c.includes(id)),
      );
      if (hit) {
        const columns = hit[1] as number[];
        matrix = raw.map((n) => order.map((id) => (n.row as number[])[columns.indexOf(id)] as number));
        if (
          hit[0] !== 'node/online' &&
          hit[0] !== 'the nodes read' &&
          !(hit[0] === 'the node directories' && onlineNodes === undefined)
        ) {
          warnings.push(`distance rows have ${len} values, matched to ${hit[0]} (${fmt(columns)})`);
        }
      } else {
        warnings.push(
          `distance rows have ${len} values, which match neither node/online, the node directories nor node/possible; using ${LOCAL_DISTANCE} local and ${REMOTE_DISTANCE} remote`,
        );
      }
    } else {
      warnings.push(
        `distance rows differ in length (${raw.map((n) => `node ${n.id}: ${n.row?.length}`).join(', ')}); using ${LOCAL_DISTANCE} local and ${REMOTE_DISTANCE} remote`,
      );
    }
  } else if (raw.length > 1) {
    warnings.push(
      `no usable distance file for node(s) ${fmt(raw.filter((n) => n.row === undefined).map((n) => n.id))}; using ${LOCAL_DISTANCE} local and ${REMOTE_DISTANCE} remote`,
    );
  }
  return matrix ?? raw.map((_, i) => raw.map((__, j) => (i === j ? LOCAL_DISTANCE : REMOTE_DISTANCE)));
}

/** The online CPUs of the nodes read, and the CPUs and nodes the process's cpuset allows. */
function onlineAndAllowed(
  r: Reading,
  raw: readonly RawNode[],
  online: number[] | undefined,
  nodeIds: ReadonlySet<number>,
): { online: number[]; allowedCpus: number[]; allowedNodes: number[]; cpuset: CpusetInfo } {
  const { roots, warnings } = r;
  const allCpus = new Set(raw.flatMap((n) => n.cpus));
  const onlineCpus = (online ?? [...allCpus]).filter((c) => allCpus.has(c));
  const orphans = (online ?? []).filter((c) => !allCpus.has(c));
  if (orphans.length) warnings.push(`online CPUs ${fmt(orphans)} belong to no online NUMA node; left out`);
  // A sysfs root given on its own describes another machine than the /proc and cgroups read for
  // the cpuset (e.g. a two-node description of a one-node host): that cpuset's sets name the real
  // host's CPUs and nodes, so they do not restrict the described machine.
  const foreignSysfs = roots.sys !== join(roots.fs ?? '/', 'sys');
  const allowed = foreignSysfs ? { info: { source: 'none' as const } } : readAllowed(roots, warnings);
  if (foreignSysfs)
    warnings.push(
      `sysfs root ${roots.sys} is not the host's /sys: its machine is taken as unrestricted (the cpuset read from ${roots.proc} belongs to another machine)`,
    );
  const allowedCpus = (allowed.cpus ?? [...allCpus]).filter((c) => allCpus.has(c));
  const allowedNodes = (allowed.mems ?? raw.map((n) => n.id)).filter((id) => nodeIds.has(id));
  if (allowed.cpus !== undefined && allowedCpus.length === 0)
    warnings.push(`the cpuset allows no CPU of this machine (${fmt(allowed.cpus)})`);
  if (allowed.mems !== undefined && allowedNodes.length === 0)
    warnings.push(`the cpuset allows no memory node of this machine (${fmt(allowed.mems)})`);
  return { online: onlineCpus, allowedCpus, allowedNodes, cpuset: allowed.info };
}

const sortedSet = (xs: readonly number[]) => [...new Set(xs)].sort((a, b) => a - b);

/** Read the topology and everything surprising met on the way. Throws an InputError for unusable roots. */
export function readTopologyDetailed(roots: HostRoots): TopologyReadResult {
  // procfs only adds node 0's memory on a machine without NUMA and the process's cpuset, each
  // missing with a warning: a dump of sys/ alone is read as hwloc reads it.
  const problems = checkRoots(roots, { proc: false });
  if (problems.length) throw new InputError(problems);
  const r: Reading = {
    roots,
    sysNode: join(roots.sys, 'devices/system/node'),
    sysCpu: join(roots.sys, 'devices/system/cpu'),
    warnings: [],
  };
  const cpus = readCpus(r);
  const lists = readNodeLists(r);
  const raw = readNodes(r, lists, cpus);
  const owner = ownerOfEachCpu(r, raw);
  const nodeIds = new Set(raw.map((n) => n.id));
  if (cpus.present && raw.length > 0 && lists.nodeDirs.length) joinUnlisted(r, owner, cpus.present, nodeIds);
  assignCpus(r, raw, owner, cpus.present);
  const matrix = distanceMatrix(r, raw, lists);
  const host = onlineAndAllowed(r, raw, cpus.online, nodeIds);
  const nodes: TopologyNodeJson[] = raw.map((n, i) => ({
    id: n.id,
    cpus: n.cpus,
    memory_kb: n.memory_kb,
    distances: matrix[i] as number[],
  }));
  const result: TopologyReadResult = {
    topology: {
      nodes,
      online_cpus: sortedSet(host.online),
      allowed_cpus: sortedSet(host.allowedCpus),
      allowed_nodes: sortedSet(host.allowedNodes),
    },
    warnings: r.warnings,
    cpuset: host.cpuset,
    roots,
  };
  if (cpus.present) result.present_cpus = [...cpus.present];
  if (lists.possibleNodes) result.possible_nodes = lists.possibleNodes;
  return result;
}

/** The host's topology as the topology JSON of docs/formats.md. Throws an InputError for unusable roots. */
export function readTopology(roots: HostRoots): TopologyJson {
  return readTopologyDetailed(roots).topology;
}
