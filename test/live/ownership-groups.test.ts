/**
 * CpusetGroups with an ownership record (live/enforce.ts + live/ownership.ts) on a fake v1 tree in
 * a temp dir (plain directories and files stand for cgroupfs; no privileges needed): a group is
 * recorded before its mkdir and forgotten after its rmdir; a group under the base that fgo did not
 * create is never written, joined or removed (EFOREIGN); the record survives a reload from disk.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpusetError, CpusetGroups } from '../../live/enforce.ts';
import { OwnedLedger } from '../../live/ownership.ts';
import { resolveRoots } from '../../formats/host/roots.ts';

const dir = mkdtempSync(join(tmpdir(), 'fgo-owned-groups-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function world() {
  const root = mkdtempSync(join(dir, 'w-'));
  const mount = join(root, 'cpuset');
  mkdirSync(mount);
  for (const [f, v] of [
    ['cpuset.cpus', '0-1\n'],
    ['cpuset.mems', '0\n'],
    ['cgroup.procs', ''],
  ] as const)
    writeFileSync(join(mount, f), v);
  const state = join(root, 'state');
  mkdirSync(state);
  const warnings: string[] = [];
  const owned = OwnedLedger.open(state, (m) => void warnings.push(m));
  const groups = new CpusetGroups({
    roots: resolveRoots(),
    backend: { kind: 'v1', mount, prefix: 'cpuset.' },
    base: 'fgo',
    owned,
  });
  return { mount, state, owned, groups, warnings };
}

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof CpusetError ? e.code : String(e);
  }
};

describe('cpuset groups and the ownership record', () => {
  it('records a group it creates, removes it, and forgets it; the record is on disk at each step', () => {
    const { mount, state, owned, groups, warnings } = world();
    groups.ensure('echo-0', [0], [0]);
    const path = join(mount, 'fgo', 'echo-0');
    expect(existsSync(path)).toBe(true);
    expect(owned.ownsGroup(path)).toBe(true);
    expect(JSON.parse(readFileSync(join(state, 'owned.json'), 'utf8')).groups).toEqual([path]);
    expect(OwnedLedger.open(state, () => {}).ownsGroup(path)).toBe(true); // a later run knows it
    groups.ensure('echo-0', [1], [0]); // an existing group of ours is updated
    expect(readFileSync(join(path, 'cpuset.cpus'), 'utf8')).toBe('1');
    for (const f of readdirSync(path)) rmSync(join(path, f)); // cgroupfs drops a group's files with its rmdir; plain dirs need this
    groups.remove('echo-0');
    expect(existsSync(path)).toBe(false);
    expect(JSON.parse(readFileSync(join(state, 'owned.json'), 'utf8')).groups).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('a group it did not create is refused for ensure, move and remove (EFOREIGN), and stays as it was', () => {
    const { mount, groups } = world();
    groups.ensure('echo-0', [0], [0]); // creates the base
    const foreign = join(mount, 'fgo', 'echo-9');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'cpuset.cpus'), '0-1');
    writeFileSync(join(foreign, 'cgroup.procs'), '4242\n');
    expect(code(() => groups.ensure('echo-9', [1], [0]))).toBe('EFOREIGN');
    expect(code(() => groups.move(1, 'echo-9'))).toBe('EFOREIGN');
    expect(code(() => groups.remove('echo-9'))).toBe('EFOREIGN');
    expect(readFileSync(join(foreign, 'cpuset.cpus'), 'utf8')).toBe('0-1');
    expect(readFileSync(join(foreign, 'cgroup.procs'), 'utf8')).toBe('4242\n');
    expect(groups.ours(foreign)).toBe(false);
  });

  it('a worker record is matched by pid AND start time', () => {
    const { state, owned } = world();
    owned.addWorker({ pid: 100, starttime: 5, fragment: 'echo-0', profile: 'echo' });
    const again = OwnedLedger.open(state, () => {});
    expect(again.worker(100, 5)).toEqual({ pid: 100, starttime: 5, fragment: 'echo-0', profile: 'echo' });
    expect(again.worker(100, 6)).toBeUndefined();
    again.removeWorker(100, 6); // another process with that pid: the record stays
    expect(again.workers()).toHaveLength(1);
    again.removeWorker(100, 5);
    expect(OwnedLedger.open(state, () => {}).workers()).toEqual([]);
  });

  it('a malformed record is reported and treated as empty: nothing is ours', () => {
    const { state } = world();
    writeFileSync(join(state, 'owned.json'), '{"version":1,"groups":[');
    const warnings: string[] = [];
    const l = OwnedLedger.open(state, (m) => void warnings.push(m));
    expect(l.workers()).toEqual([]);
    expect(warnings).toEqual([
      expect.stringMatching(/owned\.json: not JSON .*; nothing left by a previous run is treated as ours$/),
    ]);
  });
});
