/**
 * What the agent reads of the host at start: its NUMA topology, and the memory nodes a cpuset may
 * name there.
 */
import { buildTopology, type TopologyJson } from '../engine/topology.ts';
import { parseList, readText } from '../formats/host/files.ts';
import { readTopology } from '../formats/host/topology.ts';
import type { HostRoots } from '../formats/host/roots.ts';
import type { CpusetGroups } from './enforce.ts';

/** The topology as /sys describes it. */
export function hostTopology(roots: HostRoots): TopologyJson {
  return buildTopology(readTopology(roots)).json;
}

/**
 * Memory nodes of this host that a cpuset may name: the cpuset root's effective mems. A topology
 * read from a dump (or a test's two-node view of a one-node host) may name nodes this host lacks;
 * those are left to the parent's mems rather than refused.
 */
export function hostMems(groups: CpusetGroups | undefined, topo: TopologyJson): Set<number> {
  if (groups) {
    const b = groups.backend;
    const file = b.kind === 'v2' ? `${b.mount}/cpuset.mems.effective` : `${b.mount}/${b.prefix}mems`;
    const t = readText(file);
    const p = t === undefined ? undefined : parseList(t);
    if (p?.ok) return new Set(p.ids);
  }
  return new Set(topo.nodes.filter((n) => n.memory_kb > 0).map((n) => n.id));
}
