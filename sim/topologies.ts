/**
 * Built-in topologies for the twin, the demo and the benchmarks. The 8-node preset carries the
 * real SLIT of a 4-socket AMD Opteron 6276 server (hwloc's 64amd64-4s2n4ca2co dump), so distances
 * are as uneven as real hardware's; the others use the common two-level 10/21 (or 10/16/32) shape.
 */
import { buildTopology, type Topology, type TopologyJson } from '../engine/topology.ts';

/** The node distance files of hwloc's 64amd64-4s2n4ca2co dump (BSD-3-Clause, hwloc test suite). */
export const OPTERON_8N_SLIT: readonly (readonly number[])[] = [
  [10, 16, 16, 22, 16, 22, 16, 22],
  [16, 10, 22, 16, 16, 22, 22, 16],
  [16, 22, 10, 16, 16, 16, 16, 16],
  [22, 16, 16, 10, 16, 16, 22, 22],
  [16, 16, 16, 16, 10, 16, 16, 22],
  [22, 22, 16, 16, 16, 10, 22, 16],
  [16, 22, 16, 22, 16, 22, 10, 16],
  [22, 16, 16, 22, 22, 16, 16, 10],
];

/**
 * A uniform machine: `nodes` nodes of `cpusPerNode` CPUs and `memPerNode_kb` each; distances from
 * `dist(i, j)`, by default 10 locally and 21 remotely.
 */
export function uniformTopology(
  nodes: number,
  cpusPerNode: number,
  memPerNode_kb: number,
  dist?: (i: number, j: number) => number,
): TopologyJson {
  const d = dist ?? ((i: number, j: number) => (i === j ? 10 : 21));
  const all: number[] = [];
  const json: TopologyJson = { nodes: [], online_cpus: all, allowed_cpus: all, allowed_nodes: [] };
  for (let i = 0; i < nodes; i++) {
    const cpus = Array.from({ length: cpusPerNode }, (_, k) => i * cpusPerNode + k);
    all.push(...cpus);
    json.nodes.push({
      id: i,
      cpus,
      memory_kb: memPerNode_kb,
      distances: Array.from({ length: nodes }, (_, j) => d(i, j)),
    });
    json.allowed_nodes.push(i);
  }
  return json;
}

const GiB_kb = 1024 * 1024;

export const PRESETS: Record<string, () => TopologyJson> = {
  /** One node, two CPUs: like the development machine. */
  '1n-2c': () => uniformTopology(1, 2, 8 * GiB_kb),
  /** One node, sixteen CPUs: the M/M/16 benchmark's host (bench/mmc.json). */
  '1n-16c': () => uniformTopology(1, 16, 64 * GiB_kb),
  /** A common two-socket server. */
  '2n-32c': () => uniformTopology(2, 16, 64 * GiB_kb),
  /** Four nodes: two sockets with two dies each (near 16, far 32). */
  '4n-64c': () =>
    uniformTopology(4, 16, 64 * GiB_kb, (i, j) => (i === j ? 10 : Math.floor(i / 2) === Math.floor(j / 2) ? 16 : 32)),
  /** Eight nodes with a real machine's SLIT. */
  '8n-128c': () => uniformTopology(8, 16, 32 * GiB_kb, (i, j) => OPTERON_8N_SLIT[i]?.[j] as number),
  /** Sixty-four nodes (a large partitioned system): near 16 within groups of 8, far 32. */
  '64n-256c': () =>
    uniformTopology(64, 4, 16 * GiB_kb, (i, j) => (i === j ? 10 : Math.floor(i / 8) === Math.floor(j / 8) ? 16 : 32)),
};

export function presetTopology(name: string): Topology {
  const make = PRESETS[name];
  if (!make) throw new Error(`unknown topology preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return buildTopology(make());
}
