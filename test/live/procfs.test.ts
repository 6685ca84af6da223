/**
 * procfs/sysfs readers against real files (node_exporter's /proc fixtures, hwloc's node meminfo,
 * a numa_maps from this machine — see test/fixtures/procfs/SOURCE.md), hand-written edge cases and
 * this machine's live /proc. Expected values are worked out by hand in the comments.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuNodeMap, cpuUtil, parseProcStat, readProcStat } from '../../live/proc-stat.ts';
import { parseMeminfo, parseNodeMeminfo, readNodeMeminfo } from '../../live/meminfo.ts';
import {
  listPids,
  localShare,
  parseNumaMaps,
  parsePidStat,
  parsePidStatus,
  readNumaMaps,
  readPidStat,
  readPidStatus,
  readProcessLocality,
} from '../../live/proc-pid.ts';
import { HostFileError } from '../../live/procread.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { readTopology } from '../../formats/host/topology.ts';

const FX = join(import.meta.dirname, '../fixtures/procfs');
const HW = join(FX, 'hwloc-16amd64-8n2c');
const fx = (p: string) => readFileSync(join(FX, p), 'latin1');
const STAT = fx('node_exporter/proc/stat');

describe('/proc/stat', () => {
  it('parses the aggregate and per-CPU lines of the real file', () => {
    const s = parseProcStat(STAT);
    expect(s.cpus.map((c) => c.cpu)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // "cpu7 29098 268 10164 1139282 555 0 31 0 9 8"
    expect(s.cpus[7]!.times).toEqual({
      user: 29098,
      nice: 268,
      system: 10164,
      idle: 1139282,
      iowait: 555,
      irq: 0,
      softirq: 31,
      steal: 0,
      guest: 9,
      guest_nice: 8,
    });
    expect(s.total.idle).toBe(8979004);
    expect(s).toMatchObject({ btime: 1418183276, procs_running: 2, procs_blocked: 0 });
  });

  it('old kernels with 4 fields: the rest are 0; NULs and blank lines are harmless', () => {
    const s = parseProcStat('cpu 1 2 3 4\ncpu0 1 2 3 4\n\n\0\0');
    expect(s.total).toEqual({
      user: 1,
      nice: 2,
      system: 3,
      idle: 4,
      iowait: 0,
      irq: 0,
      softirq: 0,
      steal: 0,
      guest: 0,
      guest_nice: 0,
    });
  });

  it('names the file and field on bad input', () => {
    expect(() => parseProcStat('cpu 1 2 3 4\ncpu0 1 2 x 4', '/h/proc/stat')).toThrow(
      /\/h\/proc\/stat: cpu0 system: expected a non-negative integer, got "x"/,
    );
    expect(() => parseProcStat('cpu0 1 2 3 4', '/h/proc/stat')).toThrow(/no aggregate "cpu" line/);
    expect(() => parseProcStat('cpu 1 2 3', '/h/proc/stat')).toThrow(HostFileError);
  });

  it('cpuUtil: per CPU, per node and total, hand computed', () => {
    const prev = parseProcStat(STAT);
    // Deltas from the fixture (ticks):
    //  cpu0: user +30, system +10, idle +50, iowait +10  → 100 ticks, busy 40 → 0.4
    //  cpu1: idle +100                                    → 100 ticks, busy 0  → 0
    //  cpu2: user +60, idle +20, steal +20                → 100 ticks, busy 80 → 0.8 (steal is busy)
    //  cpu3: unchanged → no tick elapsed, left out; cpu4–7 absent (offline) → warnings
    //  cpu:  user +90, system +10, idle +170, iowait +10, steal +20 → 300 ticks, busy 120 → 0.4
    const next = parseProcStat(
      [
        'cpu  301944 612 111932 8979174 3562 2 3944 20 44 36',
        'cpu0 44520 19 21055 1087119 230 1 3410 0 2 1',
        'cpu1 47869 23 16474 1110887 591 0 46 0 3 2',
        'cpu2 46564 36 15916 1112341 441 0 326 20 4 3',
        'cpu3 47054 102 15683 1113230 533 0 60 0 5 4',
      ].join('\n'),
    );
    const u = cpuUtil(
      prev,
      next,
      cpuNodeMap({
        nodes: [
          { id: 0, cpus: [0, 1] },
          { id: 1, cpus: [2, 3] },
        ],
      }),
    );
    expect(u.cpus).toEqual([
      { cpu: 0, busy: 0.4, ticks: 100 },
      { cpu: 1, busy: 0, ticks: 100 },
      { cpu: 2, busy: 0.8, ticks: 100 },
    ]);
    // node 0: (40 + 0) / (100 + 100) = 0.2 over 2 CPUs; node 1: 80 / 100 = 0.8 (cpu3 had no ticks)
    expect(u.nodes).toEqual([
      { node: 0, busy: 0.2, cpus: 2 },
      { node: 1, busy: 0.8, cpus: 1 },
    ]);
    expect(u.total).toBe(0.4);
    expect(u.warnings).toHaveLength(4);
    expect(u.warnings[0]).toMatch(/cpu4: absent from the later sample/);
  });

  it('cpuUtil: guest is not counted twice; a backwards field counts 0; a reset CPU is skipped', () => {
    const a = parseProcStat('cpu 0 0 0 0 0 0 0 0 0 0\ncpu0 100 0 0 100 10 0 0 0 0 0\ncpu1 500 0 500 500 0 0 0 0 0 0');
    // cpu0: user +50 of which guest +50 (already in user), idle +105, iowait −5 (NO_HZ) → busy 50 / (50 + 105) ticks
    // cpu1: every counter lower → reset, skipped with a warning
    const b = parseProcStat('cpu 0 0 0 0 0 0 0 0 0 0\ncpu0 150 0 0 205 5 0 0 0 50 0\ncpu1 1 0 1 1 0 0 0 0 0 0');
    const u = cpuUtil(a, b);
    expect(u.cpus).toEqual([{ cpu: 0, busy: 50 / 155, ticks: 155 }]);
    expect(u.nodes).toEqual([]);
    expect(u.total).toBeUndefined();
    expect(u.warnings).toEqual(['cpu1: counters went backwards (CPU hotplug?); skipped']);
  });
});

describe('meminfo', () => {
  it('parses a node meminfo from an hwloc dump (leading blank line, HugePages counts without unit)', () => {
    const m = parseNodeMeminfo(fx('hwloc-16amd64-8n2c/sys/devices/system/node/node1/meminfo'), 'node1/meminfo', 1);
    // "Node 1 MemTotal: 8388608 kB", "Node 1 MemFree: 8226932 kB", "Node 1 MemUsed: 161676 kB" (= total − free)
    expect(m).toMatchObject({ node: 1, mem_total_kb: 8388608, mem_free_kb: 8226932 });
    expect(m.values.MemUsed).toBe(8388608 - 8226932);
    expect(m.values.HugePages_Total).toBe(0);
  });

  it('reads every node through --fs-root', () => {
    const r = readNodeMeminfo(resolveRoots({ fsRoot: HW }));
    expect(r.nodes.map((n) => [n.node, n.mem_total_kb, n.mem_free_kb])).toEqual([
      [0, 8386704, 6895672],
      [1, 8388608, 8226932],
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('rejects a node meminfo for another node, a bad unit or line', () => {
    const text = fx('hwloc-16amd64-8n2c/sys/devices/system/node/node1/meminfo');
    expect(() => parseNodeMeminfo(text, 'node0/meminfo', 0)).toThrow(
      /node0\/meminfo: line "Node 1 MemTotal:\s+8388608 kB" is for node 1, expected 0/,
    );
    expect(() => parseNodeMeminfo('Node 0 MemTotal: 5 MB\nNode 0 MemFree: 1 kB', 'f')).toThrow(
      /f: MemTotal: unit "MB" is not kB/,
    );
    expect(() => parseNodeMeminfo('MemTotal: 5 kB', 'f')).toThrow(/does not start with "Node N"/);
    expect(() => parseNodeMeminfo('Node 0 MemTotal: 5 kB\n', 'f')).toThrow(/f: no MemFree line/);
  });

  it('parses /proc/meminfo (node_exporter)', () => {
    const m = parseMeminfo(fx('node_exporter/proc/meminfo'));
    expect(m.MemTotal).toBe(3742148);
    expect(m.MemFree).toBe(225472);
    expect(m.Hugepagesize).toBe(2048);
  });

  it('this machine: node meminfo free ≤ total', () => {
    const r = readNodeMeminfo(resolveRoots());
    for (const n of r.nodes) {
      expect(n.mem_free_kb).toBeGreaterThan(0);
      expect(n.mem_free_kb).toBeLessThanOrEqual(n.mem_total_kb);
    }
  });
});

describe('/proc/PID/stat', () => {
  it('parses systemd (pid 1) from node_exporter', () => {
    // fields 14 utime=36, 15 stime=98, 20 threads=1, 22 starttime=29, 23 vsize=109604864, 24 rss=2507, 39 processor=0
    expect(parsePidStat(fx('node_exporter/proc/1/stat'))).toEqual({
      pid: 1,
      comm: 'systemd',
      state: 'S',
      ppid: 0,
      utime: 36,
      stime: 98,
      num_threads: 1,
      starttime: 29,
      vsize_bytes: 109604864,
      rss_pages: 2507,
      processor: 0,
    });
  });

  it('kernel threads: idle state I, processor 2; a file without trailing newline', () => {
    expect(parsePidStat(fx('node_exporter/proc/11/stat'))).toMatchObject({
      pid: 11,
      comm: 'rcu_preempt',
      state: 'I',
      ppid: 2,
      utime: 0,
      stime: 346,
      rss_pages: 0,
      processor: 2,
    });
    expect(parsePidStat(`${fx('node_exporter/proc/10/stat')}\0\0`)).toMatchObject({
      pid: 17,
      comm: 'khungtaskd',
      utime: 14,
      processor: 0,
    });
  });

  it('a command name with spaces and parentheses is cut at the last ")"', () => {
    const line = '42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 4 0 99 1000 25 18446744073709551615 0';
    // no field 39 here (short line): processor left out
    expect(parsePidStat(line)).toEqual({
      pid: 42,
      comm: 'a) b (c',
      state: 'R',
      ppid: 1,
      utime: 7,
      stime: 3,
      num_threads: 4,
      starttime: 99,
      vsize_bytes: 1000,
      rss_pages: 25,
    });
  });

  it('names the file on bad input', () => {
    expect(() => parsePidStat('', '/proc/7/stat')).toThrow(/\/proc\/7\/stat: no "\(comm\)" field/);
    expect(() => parsePidStat('7 (x) S 1 2', '/proc/7/stat')).toThrow(
      /\/proc\/7\/stat: 5 fields, at least 24 expected/,
    );
  });

  it('this machine: own stat, and a process that exited is "gone"', () => {
    const roots = resolveRoots();
    const me = readPidStat(roots, process.pid);
    expect(me.gone).toBe(false);
    if (!me.gone) {
      expect(me.value.pid).toBe(process.pid);
      expect(me.value.rss_pages).toBeGreaterThan(0);
      expect(me.value.processor).toBeGreaterThanOrEqual(0);
    }
    const child = spawnSync('true');
    expect(child.pid).toBeGreaterThan(0);
    const gone = readPidStat(roots, child.pid!);
    expect(gone).toMatchObject({ gone: true, pid: child.pid, reason: expect.stringMatching(/is gone \(ENOENT/) });
    expect(readPidStatus(roots, child.pid!).gone).toBe(true);
    expect(readNumaMaps(roots, child.pid!).gone).toBe(true);
    expect(listPids(roots)).toContain(process.pid);
  });
});

describe('/proc/PID/status', () => {
  const STATUS =
    'Name:\tworker\nState:\tS (sleeping)\nPid:\t4242\nThreads:\t12\nVmRSS:\t  20480 kB\nCpus_allowed:\tff\nCpus_allowed_list:\t0-3,8\nMems_allowed_list:\t0-1\n\0';
  it('parses the fields the agent uses', () => {
    const s = parsePidStatus(STATUS);
    expect(s).toMatchObject({
      name: 'worker',
      state: 'S',
      pid: 4242,
      threads: 12,
      vm_rss_kb: 20480,
      cpus_allowed: [0, 1, 2, 3, 8],
      mems_allowed: [0, 1],
    });
    expect(s.fields.Cpus_allowed).toBe('ff');
  });

  it('kernel threads have no VmRSS', () => {
    expect(parsePidStatus('Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n').vm_rss_kb).toBeUndefined();
  });

  it('names the file on bad input', () => {
    expect(() => parsePidStatus('VmRSS:\t12 MB\n', '/proc/9/status')).toThrow(
      /\/proc\/9\/status: VmRSS "12 MB" is not "N kB"/,
    );
    expect(() => parsePidStatus('Cpus_allowed_list:\t3-1\n', '/proc/9/status')).toThrow(
      /\/proc\/9\/status: Cpus_allowed_list "3-1"/,
    );
    expect(() => parsePidStatus('garbage\n', '/proc/9/status')).toThrow(/is not "Key: value"/);
  });

  it('this machine: /proc/self/status', () => {
    const r = readPidStatus(resolveRoots(), process.pid);
    expect(r.gone).toBe(false);
    if (r.gone) return;
    expect(r.value.pid).toBe(process.pid);
    expect(r.value.vm_rss_kb).toBeGreaterThan(1000);
    expect(r.value.threads).toBeGreaterThanOrEqual(1);
    expect(r.value.cpus_allowed!.length).toBeGreaterThan(0);
    expect(r.value.mems_allowed!.length).toBeGreaterThan(0);
  });
});

describe('/proc/PID/numa_maps', () => {
  it('sums pages per node of the fixture from this machine', () => {
    const m = parseNumaMaps(fx('self/numa_maps'));
    // N0: 1 + 1 + 4 + 1 + 2 + 37 + 189 + 39 = 274 pages of 4 kB = 1096 kB; 9 lines (one without pages)
    expect(m).toEqual({
      pages_by_node: { 0: 274 },
      kb_by_node: { 0: 1096 },
      total_pages: 274,
      total_kb: 1096,
      mappings: 9,
    });
    expect(localShare(m, 0)).toBe(1);
    expect(localShare(m, 1)).toBe(0);
  });

  it('weighs huge pages by size for the local share', () => {
    const m = parseNumaMaps(
      '7f0000000000 bind:1 anon=512 dirty=512 N0=100 N1=412 kernelpagesize_kB=4\n7f2000000000 default huge anon=2 dirty=2 N1=2 kernelpagesize_kB=2048\n',
    );
    // pages: N0 100, N1 412 + 2 = 414; kB: N0 400, N1 412×4 + 2×2048 = 1648 + 4096 = 5744; total 6144 kB
    expect(m.pages_by_node).toEqual({ 0: 100, 1: 414 });
    expect(m.kb_by_node).toEqual({ 0: 400, 1: 5744 });
    expect(localShare(m, 0)).toBe(400 / 6144); // ≈ 0.065, where pages alone would say 100/514 ≈ 0.195
    expect(localShare(m, 1)).toBe(5744 / 6144);
    expect(localShare(parseNumaMaps(''), 0)).toBeUndefined();
  });

  it('names the file on bad input', () => {
    expect(() => parseNumaMaps('zzz default\n', '/proc/3/numa_maps')).toThrow(
      /\/proc\/3\/numa_maps: line "zzz default" does not start with a hex address/,
    );
    expect(() => parseNumaMaps('7f default N0=x\n', '/proc/3/numa_maps')).toThrow(
      /7f N0: expected a non-negative integer/,
    );
  });

  it('this machine: own numa_maps and locality', () => {
    const roots = resolveRoots();
    const m = readNumaMaps(roots, process.pid);
    expect(m.gone).toBe(false);
    if (!m.gone) expect(m.value.total_pages).toBeGreaterThan(0);
    const loc = readProcessLocality(roots, process.pid, cpuNodeMap(readTopology(roots)));
    expect(loc.gone).toBe(false);
    if (loc.gone) return;
    expect(loc.value.node).toBeDefined();
    expect(loc.value.local_share!).toBeGreaterThan(0);
    expect(loc.value.local_share!).toBeLessThanOrEqual(1);
  });
});

describe('this machine: utilization rises under a busy loop', () => {
  it('busy ticks over a spin of 40 of our own ticks cover at least half of it', () => {
    // Spin until this process has used 40 ticks (400 ms at USER_HZ 100) of CPU, however long that
    // takes on a busy machine (bounded at 60 s), so the expectation is about accounting, not speed.
    const roots = resolveRoots();
    const a = readProcStat(roots);
    const selfA = readPidStat(roots, process.pid);
    expect(selfA.gone).toBe(false);
    const ticks = (p: typeof selfA) => (p.gone ? 0 : p.value.utime + p.value.stime);
    let selfB = selfA;
    let x = 0;
    for (
      const stop_ms = Date.now() + 60_000;
      ticks(selfB) - ticks(selfA) < 40 && Date.now() < stop_ms;
      selfB = readPidStat(roots, process.pid)
    ) {
      for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + 1);
    }
    const b = readProcStat(roots);
    expect(x).toBeGreaterThan(0);
    expect(ticks(selfB) - ticks(selfA)).toBeGreaterThanOrEqual(40);
    const u = cpuUtil(a, b, cpuNodeMap(readTopology(roots)));
    // The host's busy ticks include ours: at least half of our 40, allowing for tick granularity.
    const busyTicks = u.cpus.reduce((s, c) => s + c.busy * c.ticks, 0);
    expect(busyTicks).toBeGreaterThanOrEqual(20);
    expect(u.total!).toBeGreaterThan(0);
    for (const n of u.nodes) expect(n.busy >= 0 && n.busy <= 1).toBe(true);
  });
});
