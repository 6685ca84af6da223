/**
 * `fgo topology` end to end: the real `bin/fgo.mjs` in a child process, on unpacked hwloc dumps
 * (--fs-root), on this machine's own / (checked against /sys read directly), and through
 * `--topology sysfs:DIR`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, fgoSync, ROOT } from './fgo.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { readTopology } from '../../formats/host/topology.ts';

const DATA = new URL('../fixtures/hwloc/', import.meta.url).pathname;
const FIX = join(ROOT, 'test/fixtures');

const fgo = (...args: string[]) => fgoSync(args);

let work = '';
const dumps: Record<string, string> = {};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fgo-cli-topo-'));
  for (const name of ['64amd64-4s2n4ca2co', '32amd64-4s2n4c-cgroup2', 'offline-cpu0-node0']) {
    const dir = join(work, name);
    mkdirSync(dir);
    const r = spawnSync('tar', ['-xjf', join(DATA, `${name}.tar.bz2`), '-C', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tar ${name}: ${r.stderr}`);
    dumps[name] = join(dir, readdirSync(dir)[0] as string);
  }
}, CLI_TEST_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** "0-3,8" → [0,1,2,3,8], written independently of formats/host/cpulist.ts. */
function expand(text: string): number[] {
  return text
    .replace(/\0/g, '')
    .trim()
    .split(',')
    .filter(Boolean)
    .flatMap((part) => {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
    });
}

describe('fgo topology', () => {
  it('is listed by --help and documents its options', () => {
    expect(fgo('--help').out).toContain('topology');
    const h = fgo('topology', '--help').out;
    for (const o of ['--fs-root', '--sysfs-root', '--procfs-root', '--cgroup-root', '--json']) expect(h).toContain(o);
  });

  it("--fs-root DUMP --json prints the dump's topology JSON (the 8-node Opteron)", () => {
    const r = fgo('topology', '--fs-root', dumps['64amd64-4s2n4ca2co'] as string, '--json');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const t = JSON.parse(r.out);
    expect(t).toEqual(readTopology(resolveRoots({ fsRoot: dumps['64amd64-4s2n4ca2co'] })));
    expect(t.nodes.map((n: { id: number }) => n.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(t.nodes[5]).toEqual({
      id: 5,
      cpus: [40, 41, 42, 43, 44, 45, 46, 47],
      memory_kb: 8388608,
      distances: [22, 22, 16, 16, 16, 10, 22, 16],
    });
    expect(t.online_cpus).toHaveLength(64);
  });

  it('the readable table shows nodes, CPU ranges, GiB, the SLIT and the allowed sets (cgroup v2 dump)', () => {
    const r = fgo('topology', '--fs-root', dumps['32amd64-4s2n4c-cgroup2'] as string);
    expect(r.code).toBe(0);
    expect(r.out).toContain('8 nodes, 32 CPUs (32 online, 6 allowed), 128.00 GiB');
    expect(r.out).toMatch(/^\s+1\s+4-7\s+16\.00 GiB\s+memory, cpus 4-5$/m);
    expect(r.out).toMatch(/^\s+7\s+28-31\s+16\.00 GiB\s+no$/m);
    expect(r.out).toMatch(/^\s+0\s+10\s+16\s+16\s+22\s+16\s+22\s+16\s+22$/m);
    expect(r.out).toContain('allowed CPUs:  0-5  (cgroup2 cpuset /uid_2008/job_15389/step_0:');
    expect(r.out).toContain('allowed nodes: 0-5');
  });

  it("prints the reader's warnings on stderr, keeping stdout pure JSON", () => {
    const r = fgo('topology', '--fs-root', dumps['offline-cpu0-node0'] as string, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).online_cpus).toEqual([5, 7, 9, 11, 13, 15, 17, 19]);
    expect(r.err).toContain('warning: online CPUs 4,6,8,10,12,14,16,18,20 belong to no online NUMA node; left out');
  });

  it('bad roots are a clear error, exit 1', () => {
    const r = fgo('topology', '--fs-root', '/nonexistent/dump');
    expect(r.code).toBe(1);
    expect(r.err).toContain('/nonexistent/dump: fs root is not a directory');
    expect(r.err).toContain('/nonexistent/dump/sys: sysfs root is not a directory');
    const s = fgo('topology', '--sysfs-root', join(work, 'no-sysfs'), '--json');
    expect(s.code).toBe(1);
    expect(s.err).toContain(`${join(work, 'no-sysfs')}: sysfs root is not a directory`);
    expect(s.out).toBe('');
  });

  it("on this machine's /, agrees with /sys read directly", () => {
    const r = fgo('topology', '--json');
    expect(r.code).toBe(0);
    const t = JSON.parse(r.out);
    const nodeDir = '/sys/devices/system/node';
    const dirs = existsSync(nodeDir)
      ? readdirSync(nodeDir)
          .filter((d) => /^node\d+$/.test(d))
          .map((d) => Number(d.slice(4)))
          .sort((a, b) => a - b)
      : [];
    const online = expand(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
    expect(t.online_cpus).toEqual(online);
    if (dirs.length === 0) {
      expect(t.nodes).toHaveLength(1);
    } else {
      expect(t.nodes.map((n: { id: number }) => n.id)).toEqual(dirs);
      for (const n of t.nodes) {
        const cpulist = expand(readFileSync(join(nodeDir, `node${n.id}`, 'cpulist'), 'utf8'));
        expect(n.cpus.filter((c: number) => online.includes(c))).toEqual(cpulist.filter((c) => online.includes(c)));
        const mem = /MemTotal:\s*(\d+) kB/.exec(readFileSync(join(nodeDir, `node${n.id}`, 'meminfo'), 'utf8'));
        expect(n.memory_kb).toBe(Number(mem?.[1]));
        expect(n.distances).toEqual(
          readFileSync(join(nodeDir, `node${n.id}`, 'distance'), 'utf8')
            .trim()
            .split(/\s+/)
            .map(Number),
        );
      }
    }
    // the allowed CPUs of a child process are those of this one (same cgroup): Cpus_allowed_list ⊆ allowed
    const status = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (status) for (const c of expand(status[1] as string)) expect(t.allowed_cpus).toContain(c);
    // the readable form says the same
    const text = fgo('topology').out;
    expect(text).toContain(`${t.nodes.length} node`);
    expect(text).toMatch(/online CPUs: +\S/);
  });
});

describe('--topology sysfs:DIR', () => {
  it('decides on a dump read live, like a topology file written by fgo topology --json', () => {
    const args = ['--observation', join(FIX, 'observation.json'), '--request', join(FIX, 'request.json')];
    const live = fgo('decide', '--topology', `sysfs:${dumps['64amd64-4s2n4ca2co']}`, ...args);
    expect(live.code).toBe(0);
    const d = JSON.parse(live.out);
    expect(d.scores).toHaveLength(8);
    expect(d.action).toBe('place');
  });

  it('a bad DIR is a clear error, exit 1', () => {
    const r = fgo(
      'decide',
      '--topology',
      'sysfs:/nonexistent/dump',
      '--observation',
      join(FIX, 'observation.json'),
      '--request',
      join(FIX, 'request.json'),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain('sysfs:/nonexistent/dump: /nonexistent/dump/sys: sysfs root is not a directory');
  });
});
