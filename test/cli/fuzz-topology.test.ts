/**
 * Fuzz: the topology reader on machine dumps (`--topology sysfs:DIR`, sim/scenario-inputs.ts loadTopology
 * over formats/host/topology.ts). A sysfs tree of two NUMA nodes and four CPUs is written with each of its
 * text files either as the kernel writes it, missing, or replaced by arbitrary text (garbled lists,
 * huge numbers, NULs); reading it gives a topology or an InputError whose every problem names the
 * dump — never another exception. A topology that comes back has at least one CPU.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../sim/scenario-inputs.ts';
import { InputError } from '../../formats/errors.ts';

const RUNS = { numRuns: Number(process.env.FGO_FUZZ_RUNS ?? 150) };
const TMP = mkdtempSync(join(tmpdir(), 'fgo-fuzz-topo-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** The files of a small, valid dump: path under sys/devices/system → content. */
const VALID: Record<string, string> = {
  'node/online': '0-1\n',
  'node/possible': '0-1\n',
  'node/node0/cpulist': '0-1\n',
  'node/node1/cpulist': '2-3\n',
  'node/node0/meminfo': 'Node 0 MemTotal:       8388608 kB\n',
  'node/node1/meminfo': 'Node 1 MemTotal:       8388608 kB\n',
  'node/node0/distance': '10 21\n',
  'node/node1/distance': '21 10\n',
  'cpu/online': '0-3\n',
  'cpu/present': '0-3\n',
  'cpu/possible': '0-3\n',
};
const garbage = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    '\n',
    '0-',
    '-1',
    '3-0',
    '0-4294967295',
    '99999999999999999999',
    '0,,1',
    'ff,ffffffff',
    '1e9',
    'Node 0 MemTotal: -5 kB',
    '10 x',
    '\u0000\u0000',
    '0-1\u0000',
  ),
);
/** Per file: as valid, missing, or garbage. */
const dump = fc.record(
  Object.fromEntries(
    Object.keys(VALID).map((k) => [
      k,
      fc.oneof(fc.constant<'valid' | 'missing'>('valid'), fc.constant<'valid' | 'missing'>('missing'), garbage),
    ]),
  ),
);

let n = 0;
function writeDump(choice: Record<string, string>): string {
  const root = join(TMP, `d${n++}`);
  for (const [rel, c] of Object.entries(choice)) {
    if (c === 'missing') continue;
    const f = join(root, 'sys/devices/system', rel);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, c === 'valid' ? (VALID[rel] as string) : c);
  }
  mkdirSync(join(root, 'sys/devices/system/cpu'), { recursive: true });
  for (let c = 0; c < 4; c++) mkdirSync(join(root, `sys/devices/system/cpu/cpu${c}`), { recursive: true });
  return root;
}

describe('loadTopology(sysfs:DIR) on fuzzed dumps', () => {
  it('a topology with CPUs, or an InputError naming the dump', () => {
    fc.assert(
      fc.property(dump, (choice) => {
        const root = writeDump(choice);
        try {
          const t = loadTopology(`sysfs:${root}`);
          expect(t.nodes.some((x) => x.cpus.length > 0)).toBe(true);
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          for (const p of e.problems) expect(p).toContain(root);
        }
      }),
      RUNS,
    );
  });

  it('the valid dump reads as written', () => {
    const t = loadTopology(`sysfs:${writeDump(Object.fromEntries(Object.keys(VALID).map((k) => [k, 'valid'])))}`);
    expect(t.json.nodes).toEqual([
      { id: 0, cpus: [0, 1], memory_kb: 8388608, distances: [10, 21] },
      { id: 1, cpus: [2, 3], memory_kb: 8388608, distances: [21, 10] },
    ]);
  });
});
