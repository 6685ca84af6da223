/**
 * The one topology model every consumer shares (as hwloc's is): the live readers produce it from
 * sysfs, the twin's presets and topology files produce it, the engine consumes it. The JSON shape
 * is docs/formats.md's topology JSON; `buildTopology` validates it and adds the indexes the engine needs.
 */

export interface TopologyNodeJson {
  id: number;
  cpus: number[];
  memory_kb: number;
  /** SLIT row in the order of `nodes`. */
  distances: number[];
}

export interface TopologyJson {
  nodes: TopologyNodeJson[];
  online_cpus: number[];
  allowed_cpus: number[];
  allowed_nodes: number[];
}

export interface TopologyNode {
  id: number;
  /** Position in `nodes`, which is also the column in every distance row. */
  index: number;
  cpus: readonly number[];
  memory_kb: number;
  distances: readonly number[];
  /** CPUs of this node that the process may use (allowed ∩ node); online state comes per observation. */
  allowed_cpus: readonly number[];
  allowed: boolean;
}

export interface Topology {
  readonly json: TopologyJson;
  readonly nodes: readonly TopologyNode[];
  readonly byId: ReadonlyMap<number, TopologyNode>;
  readonly cpuNode: ReadonlyMap<number, number>;
}

/** Upper bounds that keep every per-decision loop small and every array allocation bounded. */
export const TOPOLOGY_LIMITS = { max_nodes: 1024, max_cpus: 16384 } as const;

export class TopologyError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid topology:\n  ${problems.join('\n  ')}`);
    this.name = 'TopologyError';
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function checkIdList(v: unknown, where: string, problems: string[]): number[] {
  if (!Array.isArray(v)) {
    problems.push(`${where}: must be an array of non-negative integers`);
    return [];
  }
  const seen = new Set<number>();
  v.forEach((x, i) => {
    if (!isCount(x)) problems.push(`${where}[${i}]: ${JSON.stringify(x)} is not a non-negative integer`);
    else if (seen.has(x)) problems.push(`${where}[${i}]: ${x} appears twice`);
    else seen.add(x);
  });
  return v.filter(isCount);
}

/** Validate a topology document, listing every problem, and index it. */
export function buildTopology(doc: unknown): Topology {
  const problems: string[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new TopologyError(['topology: must be a JSON object']);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!['nodes', 'online_cpus', 'allowed_cpus', 'allowed_nodes'].includes(k)) problems.push(`${k}: unknown key`);
  }
  if (!Array.isArray(d.nodes) || d.nodes.length === 0)
    throw new TopologyError([...problems, 'nodes: must be a non-empty array']);
  if (d.nodes.length > TOPOLOGY_LIMITS.max_nodes)
    problems.push(`nodes: ${d.nodes.length} nodes exceed the limit of ${TOPOLOGY_LIMITS.max_nodes}`);

  const n = d.nodes.length;
  const ids = new Set<number>();
  const cpuNode = new Map<number, number>();
  const raw: TopologyNodeJson[] = [];
  d.nodes.forEach((node: unknown, i: number) => {
    const at = `nodes[${i}]`;
    if (typeof node !== 'object' || node === null) {
      problems.push(`${at}: must be an object`);
      return;
    }
    const fields = node as Record<string, unknown>;
    for (const k of Object.keys(fields)) {
      if (!['id', 'cpus', 'memory_kb', 'distances'].includes(k)) problems.push(`${at}.${k}: unknown key`);
    }
    if (!isCount(fields.id)) problems.push(`${at}.id: must be a non-negative integer`);
    else if (ids.has(fields.id)) problems.push(`${at}.id: node ${fields.id} appears twice`);
    else ids.add(fields.id);
    const cpus = checkIdList(fields.cpus, `${at}.cpus`, problems);
    for (const c of cpus) {
      const other = cpuNode.get(c);
      if (other !== undefined) problems.push(`${at}.cpus: cpu ${c} already belongs to node ${other}`);
      else if (isCount(fields.id)) cpuNode.set(c, fields.id);
    }
    if (!isCount(fields.memory_kb)) problems.push(`${at}.memory_kb: must be a non-negative integer`);
    const dist = fields.distances;
    if (!Array.isArray(dist) || dist.length !== n) {
      problems.push(`${at}.distances: must list ${n} distances, one per node`);
    } else {
      dist.forEach((x, j) => {
        if (!isCount(x) || x === 0)
          problems.push(`${at}.distances[${j}]: ${JSON.stringify(x)} is not a positive integer`);
      });
      if (isCount(dist[i]) && dist.some((x) => isCount(x) && x < (dist[i] as number))) {
        problems.push(`${at}.distances: a remote distance is smaller than the local one (${dist[i]})`);
      }
    }
    raw.push({
      id: fields.id as number,
      cpus,
      memory_kb: fields.memory_kb as number,
      distances: (dist ?? []) as number[],
    });
  });

  const online = checkIdList(d.online_cpus ?? [...cpuNode.keys()], 'online_cpus', problems);
  // Allowed is the cpuset, independent of what is online now: by default every CPU.
  const allowedCpus = checkIdList(d.allowed_cpus ?? [...cpuNode.keys()], 'allowed_cpus', problems);
  const allowedNodes = checkIdList(d.allowed_nodes ?? [...ids], 'allowed_nodes', problems);
  for (const c of online) if (!cpuNode.has(c)) problems.push(`online_cpus: cpu ${c} belongs to no node`);
  for (const c of allowedCpus) if (!cpuNode.has(c)) problems.push(`allowed_cpus: cpu ${c} belongs to no node`);
  for (const id of allowedNodes) if (!ids.has(id)) problems.push(`allowed_nodes: node ${id} does not exist`);
  if (cpuNode.size > TOPOLOGY_LIMITS.max_cpus)
    problems.push(`cpus: ${cpuNode.size} CPUs exceed the limit of ${TOPOLOGY_LIMITS.max_cpus}`);
  if (problems.length > 0) throw new TopologyError(problems);

  const allowedCpuSet = new Set(allowedCpus);
  const allowedNodeSet = new Set(allowedNodes);
  const nodes: TopologyNode[] = raw.map((r, index) => ({
    id: r.id,
    index,
    cpus: [...r.cpus].sort((a, b) => a - b),
    memory_kb: r.memory_kb,
    distances: r.distances,
    allowed_cpus: r.cpus.filter((c) => allowedCpuSet.has(c)).sort((a, b) => a - b),
    allowed: allowedNodeSet.has(r.id),
  }));
  const json: TopologyJson = {
    nodes: raw.map((r) => ({
      id: r.id,
      cpus: [...r.cpus].sort((a, b) => a - b),
      memory_kb: r.memory_kb,
      distances: [...r.distances],
    })),
    online_cpus: [...online].sort((a, b) => a - b),
    allowed_cpus: [...allowedCpus].sort((a, b) => a - b),
    allowed_nodes: [...allowedNodes].sort((a, b) => a - b),
  };
  return { json, nodes, byId: new Map(nodes.map((x) => [x.id, x])), cpuNode };
}

/** SLIT distance between two node ids (10 = local by ACPI convention). */
export function distance(topo: Topology, from: number, to: number): number {
  const a = topo.byId.get(from);
  const b = topo.byId.get(to);
  if (!a || !b) throw new Error(`distance: unknown node ${a ? to : from}`);
  return a.distances[b.index] as number;
}
