/**
 * The cpuset enforcement layer: backend detection on fake roots, then — on this machine's real
 * cgroupfs, as root — creating a group, moving a child process in, widening the group, and the
 * kernel's refusals (bad CPU, empty sets, gone pid), with every group the test made removed in
 * afterAll even when a test fails. Skipped, with a message, where no cpuset controller is mounted
 * or we are not root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateGroupName } from '../../live/cpuset-group.ts';
import { CpusetError, CpusetGroups, detectCpusetBackend } from '../../live/enforce.ts';
import { resolveRoots } from '../../formats/host/roots.ts';

// ---------------------------------------------------------------------------------------------
// Fake roots: detection and dry-run, no privileges needed
// ---------------------------------------------------------------------------------------------

function fakeRoot(mounts: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-enforce-'));
  mkdirSync(join(dir, 'proc'), { recursive: true });
  writeFileSync(join(dir, 'proc/mounts'), mounts);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

describe('detectCpusetBackend (fake roots)', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('hybrid host: picks the v1 cpuset hierarchy when the unified mount lacks the cpuset controller', () => {
    const root = fakeRoot(
      'cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n',
      { 'sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n', 'sys/fs/cgroup/cpuset/cpuset.cpus': '0-1\n' },
    );
    made.push(root);
    expect(detectCpusetBackend(resolveRoots({ fsRoot: root }))).toEqual({
      kind: 'v1',
      mount: join(root, 'sys/fs/cgroup/cpuset'),
      prefix: 'cpuset.',
    });
  });

  it('pure v2 with the cpuset controller → v2; noprefix v1 → v1 with bare file names', () => {
    const v2 = fakeRoot('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n', {
      'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n',
    });
    const np = fakeRoot('none /dev/cpuset cgroup rw,cpuset,noprefix 0 0\n', {});
    made.push(v2, np);
    expect(detectCpusetBackend(resolveRoots({ fsRoot: v2 }))).toEqual({ kind: 'v2', mount: join(v2, 'sys/fs/cgroup') });
    expect(detectCpusetBackend(resolveRoots({ fsRoot: np }))).toEqual({
      kind: 'v1',
      mount: join(np, 'dev/cpuset'),
      prefix: '',
    });
  });

  it('no cpuset controller anywhere → none, saying what was found', () => {
    const root = fakeRoot('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n', {
      'sys/fs/cgroup/cgroup.controllers': 'memory pids\n',
    });
    made.push(root);
    const b = detectCpusetBackend(resolveRoots({ fsRoot: root }));
    expect(b.kind).toBe('none');
    expect(b.kind === 'none' && b.reason).toMatch(/no cpuset controller mounted.*no cpuset controller/);
    expect(() => new CpusetGroups({ roots: resolveRoots({ fsRoot: root }) })).toThrow(CpusetError);
  });

  it('dry-run on a fake v2 tree plans subtree_control, mkdir and writes, and touches nothing', () => {
    const root = fakeRoot('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n', {
      'sys/fs/cgroup/cgroup.controllers': 'cpuset memory\n',
      'sys/fs/cgroup/cgroup.subtree_control': 'memory\n',
    });
    made.push(root);
    const mount = join(root, 'sys/fs/cgroup');
    const g = new CpusetGroups({ roots: resolveRoots({ fsRoot: root }), dryRun: true });
    const acts = g.ensure('web', [2, 3, 1], '0');
    expect(acts.map((a) => [a.op, a.path.slice(mount.length), a.value])).toEqual([
      ['write', '/cgroup.subtree_control', '+cpuset'],
      ['mkdir', '/fgo', undefined],
      ['write', '/fgo/cgroup.subtree_control', '+cpuset'],
      ['mkdir', '/fgo/web', undefined],
      ['write', '/fgo/web/cpuset.mems', '0'],
      ['write', '/fgo/web/cpuset.cpus', '1-3'],
    ]);
    expect(acts.every((a) => a.dryRun)).toBe(true);
    expect(g.move(1234, 'web')).toEqual([
      { op: 'write', path: join(mount, 'fgo/web/cgroup.procs'), value: '1234', dryRun: true },
    ]);
    expect(existsSync(join(mount, 'fgo'))).toBe(false);
    expect(readFileSync(join(mount, 'cgroup.subtree_control'), 'utf8')).toBe('memory\n');
  });
});

describe('group names', () => {
  it('accepts [A-Za-z0-9_.-]{1,64} and refuses traversal, separators, control-file prefixes', () => {
    expect(validateGroupName('fgo-test_1.a')).toBe('fgo-test_1.a');
    for (const bad of ['../x', '..', '.', 'a/b', '', 'x'.repeat(65), 'a b', 'cgroup.procs', 'cpuset.cpus', 'é']) {
      expect(() => validateGroupName(bad), bad).toThrow(CpusetError);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// This machine's real cgroupfs
// ---------------------------------------------------------------------------------------------

const roots = resolveRoots();
const backend = detectCpusetBackend(roots);
const isRoot = process.getuid?.() === 0;
const live = backend.kind !== 'none' && isRoot;
if (!live) {
  console.warn(
    `enforce.test: skipping the real-cgroupfs tests: ${backend.kind === 'none' ? backend.reason : 'not running as root'}`,
  );
}

const statusField = (pid: number, key: string) =>
  new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim();

describe.skipIf(!live)(
  `real cpuset cgroups (${backend.kind}${backend.kind !== 'none' ? ` at ${backend.mount}` : ''})`,
  () => {
    const name = `fgo-test-${process.pid}`;
    const children: ChildProcess[] = [];
    let groups: CpusetGroups;
    let baseExisted = false;
    let mount = '';

    const sleeper = () => {
      const c = spawn('sleep', ['30'], { stdio: 'ignore' });
      children.push(c);
      if (c.pid === undefined) throw new Error('could not spawn sleep');
      return c.pid;
    };

    beforeAll(() => {
      if (backend.kind === 'none') return;
      mount = backend.mount;
      baseExisted = existsSync(join(mount, 'fgo'));
      groups = new CpusetGroups({ roots, backend });
    });

    afterAll(async () => {
      // move every child back to the root group, then kill it and wait for it to be reaped
      for (const c of children) {
        if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
          try {
            writeFileSync(join(mount, 'cgroup.procs'), String(c.pid));
          } catch {
            /* already gone */
          }
          const done = new Promise((r) => c.once('exit', r));
          c.kill('SIGKILL');
          await done;
        }
      }
      // rmdir every group the test may have made, deepest first; then the base if we created it
      const dirs = [
        join(mount, 'fgo', name, 'inner'),
        join(mount, 'fgo', name, 'empty'),
        join(mount, 'fgo', name),
        join(mount, 'fgo', `${name}-empty`),
      ];
      if (!baseExisted) dirs.push(join(mount, 'fgo'));
      const left: string[] = [];
      for (const d of dirs) {
        if (!existsSync(d)) continue;
        try {
          rmdirSync(d);
        } catch (e) {
          left.push(`${d}: ${(e as Error).message}`);
        }
      }
      expect(left).toEqual([]);
    });

    it('detects the backend: the cpuset controller with its mount path', () => {
      expect(['v1', 'v2']).toContain(backend.kind);
      console.info(`enforce.test: cpuset backend ${backend.kind} at ${mount}`);
      expect(existsSync(mount)).toBe(true);
    });

    it('refuses a bad group name before touching the filesystem', () => {
      const g = new CpusetGroups({ roots, backend, base: `fgo-nobase-${process.pid}` });
      expect(() => g.ensure('../x', '1', '0')).toThrow(/invalid cpuset group name "\.\.\/x"/);
      expect(() => g.move(1, '../x')).toThrow(CpusetError);
      expect(() => g.remove('../x')).toThrow(CpusetError);
      expect(g.actions).toEqual([]);
      expect(existsSync(join(mount, `fgo-nobase-${process.pid}`))).toBe(false);
    });

    it('dry-run records every action and creates nothing', () => {
      const base = `fgo-dry-${process.pid}`;
      const g = new CpusetGroups({ roots, backend, base, dryRun: true });
      const acts = [...g.ensure('g', '1', '0'), ...g.move(process.pid, 'g'), ...g.remove('g')];
      expect(acts.map((a) => a.op)).toEqual(
        backend.kind === 'v1'
          ? ['mkdir', 'write', 'write', 'mkdir', 'write', 'write', 'write', 'rmdir'] // base mkdir + its mems/cpus from the root
          : expect.arrayContaining(['mkdir', 'mkdir', 'write', 'rmdir']),
      );
      expect(acts.every((a) => a.dryRun)).toBe(true);
      expect(acts.find((a) => a.path.endsWith('/g/cgroup.procs'))?.value).toBe(String(process.pid));
      expect(g.actions).toEqual(acts);
      expect(existsSync(join(mount, base))).toBe(false);
      expect(readFileSync(`/proc/${process.pid}/cpuset`, 'utf8').trim()).not.toContain(base);
    });

    it(`creates ${'<base>'}/fgo-test-<pid> with cpus 1, mems 0`, () => {
      const acts = groups.ensure(name, '1', '0');
      expect(acts.some((a) => a.op === 'mkdir' && a.path === join(mount, 'fgo', name))).toBe(true);
      const dir = join(mount, 'fgo', name);
      expect(readFileSync(join(dir, 'cpuset.cpus'), 'utf8').trim()).toBe('1');
      expect(readFileSync(join(dir, 'cpuset.mems'), 'utf8').trim()).toBe('0');
      // ensure() again with the same sets writes nothing
      expect(groups.ensure(name, [1], [0])).toEqual([]);
    });

    it('moves a sleep child in: its allowed CPUs become 1 and /proc/<pid>/cpuset names the group', () => {
      const pid = sleeper();
      expect(groups.move(pid, name)).toEqual([
        { op: 'write', path: join(mount, 'fgo', name, 'cgroup.procs'), value: String(pid), dryRun: false },
      ]);
      expect(statusField(pid, 'Cpus_allowed_list')).toBe('1');
      expect(statusField(pid, 'Mems_allowed_list')).toBe('0');
      const cg = backend.kind === 'v1' ? readFileSync(`/proc/${pid}/cpuset`, 'utf8').trim() : undefined;
      if (cg !== undefined) expect(cg).toBe(`/fgo/${name}`);
      const listed = groups.list().find((g) => g.name === name);
      expect(listed?.pids).toContain(pid);
      expect(listed?.cpus).toBe('1');
      expect(listed?.effectiveCpus).toBe('1');
    });

    it('widens the group to 0-1 and the child follows', () => {
      const pid = children[0]?.pid as number;
      const acts = groups.ensure(name, '0-1', '0');
      expect(acts).toEqual([
        { op: 'write', path: join(mount, 'fgo', name, 'cpuset.cpus'), value: '0-1', dryRun: false },
      ]);
      expect(statusField(pid, 'Cpus_allowed_list')).toBe('0-1');
    });

    it('an invalid CPU (7) fails with a clear error naming the file and errno, leaving the group as it was', () => {
      const file = join(mount, 'fgo', name, 'cpuset.cpus');
      let err: unknown;
      try {
        groups.ensure(name, '7', '0');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CpusetError);
      const e = err as CpusetError;
      // the kernel says ERANGE when 7 is beyond its possible CPUs (this 2-CPU machine), EINVAL when
      // it is possible but offline, EACCES (v1) when online but outside the parent's set
      expect(['EINVAL', 'ERANGE', 'EACCES']).toContain(e.code);
      expect(e.path).toBe(file);
      expect(e.message).toContain(`write "7" to ${file} failed: ${e.code}`);
      expect(e.message).toMatch(/not all (online CPUs )?within the parent's/);
      console.info(`enforce.test: cpus "7" → ${e.message}`);
      expect(readFileSync(file, 'utf8').trim()).toBe('0-1');
    });

    it.skipIf(existsSync('/sys/devices/system/node/node1'))(
      'a memory node that does not exist (1) fails with EINVAL',
      () => {
        expect(() => groups.ensure(name, '0-1', '1')).toThrow(
          expect.objectContaining({
            code: 'EINVAL',
            message: expect.stringMatching(
              /cpuset\.mems failed: EINVAL \(Invalid argument\): nodes 1 are not all online memory nodes/,
            ),
          }),
        );
      },
    );

    it.skipIf(backend.kind !== 'v1')(
      "v1: CPUs outside the parent group are refused (EACCES), with the parent's set in the message",
      () => {
        groups.ensure(name, '1', '0');
        const nested = new CpusetGroups({ roots, backend, base: `fgo/${name}` });
        expect(() => nested.ensure('inner', '0', '0')).toThrow(
          expect.objectContaining({
            code: 'EACCES',
            message: expect.stringMatching(/CPUs 0 are not all within the parent's cpuset\.cpus \(1\)/),
          }),
        );
        // shrinking a v1 parent below its child's CPUs is refused too (EBUSY)
        nested.ensure('inner', '1', '0');
        expect(() => groups.ensure(name, '0', '0')).toThrow(expect.objectContaining({ code: 'EBUSY' }));
        expect(nested.remove('inner').map((a) => a.op)).toEqual(['rmdir']);
        groups.ensure(name, '0-1', '0');
      },
    );

    it.skipIf(backend.kind !== 'v1')('v1: a group with empty cpus/mems takes no task (ENOSPC)', () => {
      const pid = sleeper();
      groups.ensure(`${name}-empty`, '', '');
      expect(readFileSync(join(mount, 'fgo', `${name}-empty`, 'cpuset.cpus'), 'utf8').trim()).toBe('');
      expect(() => groups.move(pid, `${name}-empty`)).toThrow(
        expect.objectContaining({
          code: 'ENOSPC',
          message: expect.stringMatching(/cgroup\.procs failed: ENOSPC.*needs both set/),
        }),
      );
      expect(groups.remove(`${name}-empty`).map((a) => a.op)).toEqual(['rmdir']);
    });

    it('moving a pid that is gone fails with ESRCH', async () => {
      const c = spawn('true', [], { stdio: 'ignore' });
      const pid = c.pid as number;
      await new Promise((r) => c.once('exit', r));
      expect(() => groups.move(pid, name)).toThrow(
        expect.objectContaining({ code: 'ESRCH', message: expect.stringContaining(`process ${pid} does not exist`) }),
      );
    });

    it('refuses to remove a group holding a process; removes it once the process is released', () => {
      const pid = children[0]?.pid as number;
      expect(() => groups.remove(name)).toThrow(
        expect.objectContaining({ code: 'EBUSY', message: expect.stringContaining(`processes ${pid}`) }),
      );
      groups.release(pid);
      expect(statusField(pid, 'Cpus_allowed_list')).toBe(readFileSync(join(mount, 'cpuset.cpus'), 'utf8').trim());
      expect(groups.remove(name)).toEqual([{ op: 'rmdir', path: join(mount, 'fgo', name), dryRun: false }]);
      expect(existsSync(join(mount, 'fgo', name))).toBe(false);
      expect(groups.list().map((g) => g.name)).not.toContain(name);
      expect(groups.remove(name)).toEqual([]);
    });
  },
);
