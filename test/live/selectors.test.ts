/** Adopt-mode selectors: globs over cgroup paths, cgroup file parsing, and a scan of this host's /proc. */
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { compileRules, globToRegExp, parseCgroupPaths, scan, stillRunning } from '../../live/selectors.ts';
import { readPidStat } from '../../live/proc-pid.ts';
import { resolveRoots } from '../../formats/host/roots.ts';

describe('globToRegExp', () => {
  it('* stays within a segment, ** crosses segments, ? is one character, the rest is literal', () => {
    expect(globToRegExp('/system.slice/*.service').test('/system.slice/nginx.service')).toBe(true);
    expect(globToRegExp('/system.slice/*.service').test('/system.slice/a/b.service')).toBe(false);
    expect(globToRegExp('/kubepods/**').test('/kubepods/burstable/pod1/abc')).toBe(true);
    expect(globToRegExp('/x?').test('/x1')).toBe(true);
    expect(globToRegExp('/x?').test('/x/')).toBe(false);
    // '.' and '+' are literal, not regex operators.
    expect(globToRegExp('/a.b+').test('/aXb+')).toBe(false);
    expect(globToRegExp('/a.b+').test('/a.b+')).toBe(true);
  });
});

describe('parseCgroupPaths', () => {
  it('reads v1 and v2 lines, paths may contain colons', () => {
    expect(parseCgroupPaths('12:cpuset:/fgo/pid1\n0::/user.slice/a:b\n')).toEqual(['/fgo/pid1', '/user.slice/a:b']);
    expect(parseCgroupPaths('')).toEqual([]);
  });
});

describe('scan on this host', () => {
  const marker = `fgo-selector-test-${process.pid}-${Date.now()}`;
  const child = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)', marker], { stdio: 'ignore' });
  afterAll(() => {
    child.kill('SIGKILL');
  });
  const roots = resolveRoots();

  it('finds the process by its command line, and by pid; excludes what it is told to', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const pid = child.pid as number;
    const byCmd = scan(roots, compileRules([{ profile: 'p', cmdline: marker }]), new Set());
    expect(byCmd.map((c) => c.pid)).toEqual([pid]);
    expect(byCmd[0]?.cmdline).toContain(marker);
    const byPid = scan(roots, compileRules([{ profile: 'q', pids: [pid], cmdline: 'setInterval' }]), new Set());
    expect(byPid).toHaveLength(1);
    expect(byPid[0]?.profile).toBe('q');
    expect(scan(roots, compileRules([{ profile: 'p', cmdline: marker }]), new Set([pid]))).toEqual([]);
    // All selectors of a rule must match: right pid, wrong cmdline → nothing.
    expect(scan(roots, compileRules([{ profile: 'p', pids: [pid], cmdline: 'no-such-marker' }]), new Set())).toEqual(
      [],
    );
    // The cgroup selector reads /proc/PID/cgroup: every process is somewhere under '/'.
    expect(
      scan(roots, compileRules([{ profile: 'p', cmdline: marker, cgroup: '/**' }]), new Set()).map((c) => c.pid),
    ).toEqual([pid]);
    expect(
      scan(roots, compileRules([{ profile: 'p', cmdline: marker, cgroup: '/no-such-group/*' }]), new Set()),
    ).toEqual([]);
  });

  it('stillRunning tells a live process from an exited one and from a reused pid', async () => {
    const pid = child.pid as number;
    const st = readPidStat(roots, pid);
    expect(st.gone).toBe(false);
    const start = st.gone ? 0 : st.value.starttime;
    expect(stillRunning(roots, pid, start)).toBe(true);
    expect(stillRunning(roots, pid, start + 1)).toBe(false); // same pid, another process
    const short = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => short.on('exit', r));
    expect(stillRunning(roots, short.pid as number, 0)).toBe(false);
  });
});
