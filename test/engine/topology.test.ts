import { describe, expect, it } from 'vitest';
import { buildTopology, distance, TopologyError, type TopologyJson } from '../../engine/topology.ts';
import { OPTERON_SLIT } from '../helpers.ts';

/** The example of docs/formats.md's "Topology JSON", completed to two nodes. */
const designDoc = (): TopologyJson => ({
  nodes: [
    { id: 0, cpus: [0, 1, 2, 3], memory_kb: 16777216, distances: [10, 21] },
    { id: 1, cpus: [4, 5, 6, 7], memory_kb: 16777216, distances: [21, 10] },
  ],
  online_cpus: [0, 1, 2, 3, 4, 5, 6, 7],
  allowed_cpus: [0, 1, 2, 3, 4, 5, 6, 7],
  allowed_nodes: [0, 1],
});

const OPTERON = OPTERON_SLIT;

const opteronDoc = (): TopologyJson => ({
  nodes: OPTERON.map((row, i) => ({ id: i, cpus: [i * 2, i * 2 + 1], memory_kb: 1_000_000, distances: row })),
  online_cpus: Array.from({ length: 16 }, (_, c) => c),
  allowed_cpus: Array.from({ length: 16 }, (_, c) => c),
  allowed_nodes: [0, 1, 2, 3, 4, 5, 6, 7],
});

/** The problems a document is rejected with (fails the test when it is accepted). */
function problemsOf(doc: unknown): string[] {
  try {
    buildTopology(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).problems;
  }
  throw new Error('expected buildTopology to reject the document');
}

describe('buildTopology: accepting the shape of docs/formats.md', () => {
  it('indexes the two-node example', () => {
    const t = buildTopology(designDoc());
    expect(t.nodes).toHaveLength(2);
    expect(t.nodes.map((n) => n.index)).toEqual([0, 1]);
    expect(t.nodes[0]).toMatchObject({
      id: 0,
      index: 0,
      cpus: [0, 1, 2, 3],
      memory_kb: 16777216,
      distances: [10, 21],
      allowed_cpus: [0, 1, 2, 3],
      allowed: true,
    });
    expect(t.nodes[1]).toMatchObject({
      id: 1,
      index: 1,
      cpus: [4, 5, 6, 7],
      memory_kb: 16777216,
      distances: [21, 10],
      allowed_cpus: [4, 5, 6, 7],
      allowed: true,
    });
    expect(t.byId.get(1)?.index).toBe(1);
    // every CPU maps to its node: 0–3 → 0, 4–7 → 1
    expect([...t.cpuNode.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 1],
      [5, 1],
      [6, 1],
      [7, 1],
    ]);
  });

  it('keeps the document (normalised) as json, so it round-trips', () => {
    const t = buildTopology(designDoc());
    expect(t.json).toEqual(designDoc());
    // building from the stored json gives the same json again
    expect(buildTopology(JSON.parse(JSON.stringify(t.json))).json).toEqual(t.json);
  });

  it('sorts CPU lists and keeps the distance rows in node order', () => {
    const t = buildTopology({
      nodes: [
        { id: 0, cpus: [3, 1, 2, 0], memory_kb: 10, distances: [10, 21] },
        { id: 1, cpus: [7, 4], memory_kb: 10, distances: [21, 10] },
      ],
      online_cpus: [7, 4, 3, 2, 1, 0],
      allowed_cpus: [4, 0, 7],
      allowed_nodes: [1, 0],
    });
    expect(t.nodes[0]?.cpus).toEqual([0, 1, 2, 3]);
    expect(t.json.online_cpus).toEqual([0, 1, 2, 3, 4, 7]);
    expect(t.json.allowed_cpus).toEqual([0, 4, 7]);
    expect(t.json.allowed_nodes).toEqual([0, 1]);
    expect(t.nodes[0]?.allowed_cpus).toEqual([0]);
    expect(t.nodes[1]?.allowed_cpus).toEqual([4, 7]);
  });

  it('derives allowed_cpus per node as allowed ∩ node CPUs', () => {
    const doc = designDoc();
    doc.allowed_cpus = [1, 3, 4]; // node 0 keeps {1,3}, node 1 keeps {4}
    const t = buildTopology(doc);
    expect(t.nodes[0]?.allowed_cpus).toEqual([1, 3]);
    expect(t.nodes[1]?.allowed_cpus).toEqual([4]);
    // the node's own CPU list is untouched
    expect(t.nodes[0]?.cpus).toEqual([0, 1, 2, 3]);
  });

  it('a node can be allowed with no allowed CPUs, and a node can be disallowed', () => {
    const doc = designDoc();
    doc.allowed_cpus = [0, 1, 2, 3]; // none of node 1's
    doc.allowed_nodes = [0];
    const t = buildTopology(doc);
    expect(t.nodes[0]?.allowed).toBe(true);
    expect(t.nodes[1]?.allowed).toBe(false);
    expect(t.nodes[1]?.allowed_cpus).toEqual([]);
  });

  it('with online_cpus, allowed_cpus and allowed_nodes omitted, everything is online and allowed', () => {
    const t = buildTopology({ nodes: designDoc().nodes });
    expect(t.json.online_cpus).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(t.json.allowed_cpus).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(t.json.allowed_nodes).toEqual([0, 1]);
    expect(t.nodes.map((n) => n.allowed)).toEqual([true, true]);
    expect(t.nodes.map((n) => n.allowed_cpus.length)).toEqual([4, 4]);
  });

  it('accepts a CPU-less memory node', () => {
    const t = buildTopology({
      nodes: [
        { id: 0, cpus: [0, 1], memory_kb: 8_000_000, distances: [10, 21] },
        { id: 1, cpus: [], memory_kb: 64_000_000, distances: [21, 10] },
      ],
      online_cpus: [0, 1],
      allowed_cpus: [0, 1],
      allowed_nodes: [0, 1],
    });
    expect(t.nodes[1]).toMatchObject({ id: 1, cpus: [], allowed_cpus: [], allowed: true, memory_kb: 64_000_000 });
    expect(t.json.nodes[1]?.cpus).toEqual([]);
    expect(distance(t, 0, 1)).toBe(21);
    expect([...t.cpuNode.values()]).toEqual([0, 0]); // no CPU maps to node 1
  });

  it('handles non-contiguous node ids: distance columns follow the position in nodes', () => {
    const t = buildTopology({
      nodes: [
        { id: 4, cpus: [0], memory_kb: 1, distances: [10, 30, 20] },
        { id: 9, cpus: [1], memory_kb: 1, distances: [30, 10, 25] },
        { id: 2, cpus: [2], memory_kb: 1, distances: [20, 25, 10] },
      ],
    });
    expect(t.byId.get(9)?.index).toBe(1);
    expect(distance(t, 4, 9)).toBe(30); // row of node 4 (index 0), column of node 9 (index 1)
    expect(distance(t, 9, 2)).toBe(25); // row index 1, column index 2
    expect(distance(t, 2, 4)).toBe(20); // row index 2, column index 0
    expect(distance(t, 2, 2)).toBe(10);
    expect(t.cpuNode.get(2)).toBe(2);
  });
});

describe('buildTopology: rejecting bad documents', () => {
  it('lists every problem at once, in document order', () => {
    const problems = problemsOf({
      nodes: [
        { id: 0, cpus: [0, 1], memory_kb: 100, distances: [10, 21, 21] },
        // duplicate id 0; CPU 1 already on node 0; row has 2 entries for 3 nodes
        { id: 0, cpus: [1, 2], memory_kb: 100, distances: [21, 10] },
        // unknown key; remote distance 9 below the local 10
        { id: 2, cpus: [3], memory_kb: 100, distances: [21, 9, 10], colour: 'red' },
      ],
      allowed_nodes: [0, 7], // node 7 does not exist
      extra: true, // unknown top-level key
    });
    expect(problems).toEqual([
      'extra: unknown key',
      'nodes[1].id: node 0 appears twice',
      'nodes[1].cpus: cpu 1 already belongs to node 0',
      'nodes[1].distances: must list 3 distances, one per node',
      'nodes[2].colour: unknown key',
      'nodes[2].distances: a remote distance is smaller than the local one (10)',
      'allowed_nodes: node 7 does not exist',
    ]);
  });

  it('the error message carries every problem too', () => {
    try {
      buildTopology({ nodes: [{ id: 0, cpus: [0], memory_kb: 1, distances: [10] }], allowed_nodes: [3], bogus: 1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TopologyError);
      expect((e as Error).name).toBe('TopologyError');
      expect((e as Error).message).toContain('bogus: unknown key');
      expect((e as Error).message).toContain('allowed_nodes: node 3 does not exist');
    }
  });

  it('rejects duplicate node ids', () => {
    expect(
      problemsOf({
        nodes: [
          { id: 3, cpus: [0], memory_kb: 1, distances: [10, 21] },
          { id: 3, cpus: [1], memory_kb: 1, distances: [21, 10] },
        ],
      }),
    ).toEqual(['nodes[1].id: node 3 appears twice']);
  });

  it('rejects a CPU listed by two nodes', () => {
    expect(
      problemsOf({
        nodes: [
          { id: 0, cpus: [0, 1], memory_kb: 1, distances: [10, 21] },
          { id: 1, cpus: [1, 2], memory_kb: 1, distances: [21, 10] },
        ],
      }),
    ).toEqual(['nodes[1].cpus: cpu 1 already belongs to node 0']);
  });

  it('rejects a CPU listed twice by one node', () => {
    const problems = problemsOf({ nodes: [{ id: 0, cpus: [0, 0], memory_kb: 1, distances: [10] }] });
    expect(problems[0]).toBe('nodes[0].cpus[1]: 0 appears twice');
    // (the repeat is also reported as 'cpu 0 already belongs to node 0': redundant, but still a rejection)
    expect(problems.every((p) => p.startsWith('nodes[0].cpus'))).toBe(true);
  });

  it('rejects distance rows of the wrong length (too short and too long)', () => {
    expect(
      problemsOf({
        nodes: [
          { id: 0, cpus: [0], memory_kb: 1, distances: [10] },
          { id: 1, cpus: [1], memory_kb: 1, distances: [21, 10, 21] },
        ],
      }),
    ).toEqual([
      'nodes[0].distances: must list 2 distances, one per node',
      'nodes[1].distances: must list 2 distances, one per node',
    ]);
  });

  it('rejects a remote distance smaller than the local one, but accepts an equal one', () => {
    expect(
      problemsOf({
        nodes: [
          { id: 0, cpus: [0], memory_kb: 1, distances: [10, 21] },
          { id: 1, cpus: [1], memory_kb: 1, distances: [12, 20] }, // local (index 1) is 20, remote 12 < 20
        ],
      }),
    ).toEqual(['nodes[1].distances: a remote distance is smaller than the local one (20)']);
    expect(() =>
      buildTopology({
        nodes: [
          { id: 0, cpus: [0], memory_kb: 1, distances: [10, 10] },
          { id: 1, cpus: [1], memory_kb: 1, distances: [10, 10] },
        ],
      }),
    ).not.toThrow();
  });

  it('rejects zero and non-integer distances', () => {
    const problems = problemsOf({
      nodes: [
        { id: 0, cpus: [0], memory_kb: 1, distances: [10, 0] },
        { id: 1, cpus: [1], memory_kb: 1, distances: [21.5, 10] },
      ],
    });
    expect(problems).toContain('nodes[0].distances[1]: 0 is not a positive integer');
    expect(problems).toContain('nodes[1].distances[0]: 21.5 is not a positive integer');
    // a 0 is also smaller than the local 10, which is reported as well
    expect(problems).toContain('nodes[0].distances: a remote distance is smaller than the local one (10)');
    expect(problems).toHaveLength(3);
  });

  it('rejects unknown keys at the top level and in nodes', () => {
    const doc = {
      ...designDoc(),
      cpus_total: 8,
      nodes: designDoc().nodes.map((n, i) => (i === 1 ? { ...n, name: 'socket1' } : n)),
    };
    expect(problemsOf(doc)).toEqual(['cpus_total: unknown key', 'nodes[1].name: unknown key']);
  });

  it('rejects allowed_nodes naming a missing node', () => {
    const doc = designDoc();
    doc.allowed_nodes = [0, 1, 2, 5];
    expect(problemsOf(doc)).toEqual(['allowed_nodes: node 2 does not exist', 'allowed_nodes: node 5 does not exist']);
  });

  it('rejects online and allowed CPUs that belong to no node', () => {
    const doc = designDoc();
    doc.online_cpus = [0, 1, 8];
    doc.allowed_cpus = [0, 9];
    expect(problemsOf(doc)).toEqual([
      'online_cpus: cpu 8 belongs to no node',
      'allowed_cpus: cpu 9 belongs to no node',
    ]);
  });

  it('rejects malformed ids, CPU lists and memory sizes', () => {
    expect(
      problemsOf({
        nodes: [{ id: -1, cpus: [0, 'x'], memory_kb: 1.5, distances: [10] }],
        online_cpus: 'all',
      }),
    ).toEqual([
      'nodes[0].id: must be a non-negative integer',
      'nodes[0].cpus[1]: "x" is not a non-negative integer',
      'nodes[0].memory_kb: must be a non-negative integer',
      'online_cpus: must be an array of non-negative integers',
    ]);
  });

  it('rejects a non-object document and an empty or missing node list', () => {
    expect(problemsOf(null)).toEqual(['topology: must be a JSON object']);
    expect(problemsOf([])).toEqual(['topology: must be a JSON object']);
    expect(problemsOf({ nodes: [] })).toEqual(['nodes: must be a non-empty array']);
    // problems found before the node list is looked at are still reported
    expect(problemsOf({ extra: 1 })).toEqual(['extra: unknown key', 'nodes: must be a non-empty array']);
  });
});

describe('distance()', () => {
  it('looks up the two-node SLIT in both directions', () => {
    const t = buildTopology(designDoc());
    expect(distance(t, 0, 0)).toBe(10);
    expect(distance(t, 0, 1)).toBe(21);
    expect(distance(t, 1, 0)).toBe(21);
    expect(distance(t, 1, 1)).toBe(10);
  });

  it('returns every entry of the real 8-node Opteron SLIT', () => {
    const t = buildTopology(opteronDoc());
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expect(distance(t, i, j)).toBe(OPTERON[i]?.[j]);
    expect(distance(t, 0, 3)).toBe(22); // row 0: [10,16,16,22,…], column 3
    expect(distance(t, 2, 7)).toBe(16); // row 2: […,16] last column
    expect(distance(t, 5, 1)).toBe(22); // row 5: [22,22,…], column 1
    expect(distance(t, 6, 6)).toBe(10);
  });

  it('throws naming the unknown node', () => {
    const t = buildTopology(designDoc());
    expect(() => distance(t, 5, 0)).toThrow('distance: unknown node 5');
    expect(() => distance(t, 0, 6)).toThrow('distance: unknown node 6');
  });
});
