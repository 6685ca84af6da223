/**
 * PSI readers against node_exporter's real pressure files (test/fixtures/procfs, Apache-2.0), small
 * hand-written cases, and this machine's own /proc/pressure. The kernel prints averages in percent
 * with two decimals; the engine wants fractions, so every expectation below is percent ÷ 100.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../../engine/types.ts';
import {
  parseCgroupV2Path,
  parsePsiReading,
  parsePsiText,
  percentToFraction,
  readCgroupPressure,
  readPressure,
} from '../../live/psi.ts';
import { HostFileError } from '../../live/procread.ts';
import { resolveRoots } from '../../formats/host/roots.ts';

const NE = join(import.meta.dirname, '../fixtures/procfs/node_exporter');
const pressure = (r: string) => readFileSync(join(NE, 'proc/pressure', r), 'latin1');

describe('parsePsiText', () => {
  it('converts percent to fractions and keeps total in µs (node_exporter io)', () => {
    // "some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802": 0.18 % = 0.0018, 0.34 % = 0.0034, 0.10 % = 0.001
    expect(parsePsiText(pressure('io'), 'io')).toEqual({
      some: { avg10: 0.0018, avg60: 0.0034, avg300: 0.001, total_us: 159886802 },
      full: { avg10: 0.0018, avg60: 0.0034, avg300: 0.001, total_us: 159229614 },
    });
  });

  it('reads cpu with an all-zero system full line as printed', () => {
    expect(parsePsiReading(pressure('cpu'), 'cpu')).toEqual({
      some: { avg10: 0, avg60: 0, avg300: 0, total_us: 14036781 },
      full: { avg10: 0, avg60: 0, avg300: 0, total_us: 0 },
    });
  });

  it('reads irq (only a full line, no trailing newline in the real file)', () => {
    expect(pressure('irq').endsWith('\n')).toBe(false);
    expect(parsePsiText(pressure('irq'))).toEqual({ full: { avg10: 0, avg60: 0, avg300: 0, total_us: 8494 } });
  });

  it('keeps two-decimal percentages exact and reaches 1 at 100 %', () => {
    // 1.93 % → 0.0193, 9.25 % → 0.0925, 15.30 % → 0.153 (not 0.15300000000000002)
    expect(parsePsiText('some avg10=1.93 avg60=9.25 avg300=15.30 total=1488194118\n').some).toEqual({
      avg10: 0.0193,
      avg60: 0.0925,
      avg300: 0.153,
      total_us: 1488194118,
    });
    expect(percentToFraction(100)).toBe(1);
    expect(percentToFraction(0.01)).toBe(0.0001);
  });

  it('system cpu without a full line (kernels before 5.13): full absent', () => {
    const r = parsePsiReading('some avg10=0.50 avg60=0.25 avg300=0.00 total=42\n');
    expect(r).toEqual({ some: { avg10: 0.005, avg60: 0.0025, avg300: 0, total_us: 42 } });
    expect('full' in r).toBe(false);
  });

  it('ignores unknown lines and keys, trailing NULs and whitespace', () => {
    const text =
      'some avg10=2.00 avg60=1.00 avg300=0.50 avg900=9.99 total=7 future=x\nwhatever avg10=1\n  full avg10=1.00 avg60=0.00 avg300=0.00 total=3  \n\n\0\0\0';
    expect(parsePsiText(text)).toEqual({
      some: { avg10: 0.02, avg60: 0.01, avg300: 0.005, total_us: 7 },
      full: { avg10: 0.01, avg60: 0, avg300: 0, total_us: 3 },
    });
    expect(parsePsiText('')).toEqual({});
  });

  it('names the file and the problem on malformed input', () => {
    const bad: Array<[string, RegExp]> = [
      ['some avg10=1.00 avg300=0.00 total=1', /cpu\.pressure: "some" line has no avg60/],
      ['some avg10=abc avg60=0 avg300=0 total=1', /cpu\.pressure: "some" avg10=abc: not a percentage/],
      ['some avg10=100.01 avg60=0 avg300=0 total=1', /above 100 %/],
      ['some avg10=-1.00 avg60=0 avg300=0 total=1', /not a percentage/],
      ['full avg10=0 avg60=0 avg300=0', /"full" line has no total/],
      ['some avg10=0 avg60=0 avg300=0 total=1.5', /total=1\.5: not a µs count/],
      ['some avg10=0 avg60=0 avg300=0 total=1\nsome avg10=0 avg60=0 avg300=0 total=2', /two "some" lines/],
      ['some avg10 avg60=0 avg300=0 total=1', /"avg10" is not key=value/],
    ];
    for (const [text, re] of bad) {
      expect(() => parsePsiText(text, 'cpu.pressure')).toThrow(HostFileError);
      expect(() => parsePsiText(text, 'cpu.pressure')).toThrow(re);
    }
    expect(() => parsePsiReading('full avg10=0 avg60=0 avg300=0 total=0', 'x/memory')).toThrow(
      /x\/memory: no "some" line/,
    );
  });
});

describe('readPressure', () => {
  it('reads a dump through --fs-root', () => {
    const r = readPressure(resolveRoots({ fsRoot: NE }));
    expect(r.available).toBe(true);
    if (!r.available) return;
    expect(r.dir).toBe(join(NE, 'proc/pressure'));
    expect(r.psi.memory).toEqual({
      some: { avg10: 0, avg60: 0, avg300: 0, total_us: 0 },
      full: { avg10: 0, avg60: 0, avg300: 0, total_us: 0 },
    });
    expect(r.psi.io.some.avg60).toBe(0.0034);
    expect(r.psi.cpu.some.total_us).toBe(14036781);
    expect(r.irq).toEqual({ avg10: 0, avg60: 0, avg300: 0, total_us: 8494 });
  });

  it('says clearly when the kernel has no PSI', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgo-nopsi-'));
    mkdirSync(join(dir, 'proc'));
    const r = readPressure(resolveRoots({ fsRoot: dir }));
    expect(r).toEqual({
      available: false,
      reason: expect.stringMatching(/proc\/pressure: not present — this kernel has no PSI/),
    });
  });

  it('a pressure directory missing one resource is unavailable, naming the file; no irq file is fine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgo-psi-'));
    mkdirSync(join(dir, 'proc/pressure'), { recursive: true });
    writeFileSync(join(dir, 'proc/pressure/cpu'), pressure('cpu'));
    writeFileSync(join(dir, 'proc/pressure/memory'), pressure('memory'));
    const r = readPressure(resolveRoots({ fsRoot: dir }));
    expect(r.available).toBe(false);
    if (!r.available) expect(r.reason).toMatch(/proc\/pressure\/io: missing/);
    writeFileSync(join(dir, 'proc/pressure/io'), pressure('io'));
    const ok = readPressure(resolveRoots({ fsRoot: dir }));
    expect(ok.available && ok.irq).toBe(undefined);
    expect(ok.available).toBe(true);
  });

  it('a malformed file throws, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgo-psi-'));
    mkdirSync(join(dir, 'proc/pressure'), { recursive: true });
    for (const r of ['cpu', 'io']) writeFileSync(join(dir, 'proc/pressure', r), pressure(r));
    writeFileSync(join(dir, 'proc/pressure/memory'), 'some avg10=x avg60=0 avg300=0 total=0\n');
    expect(() => readPressure(resolveRoots({ fsRoot: dir }))).toThrow(/proc\/pressure\/memory: "some" avg10=x/);
  });
});

describe('readCgroupPressure', () => {
  it('reads <cgroup>/<resource>.pressure under the cgroup root, and reports a removed group as gone', () => {
    const root = mkdtempSync(join(tmpdir(), 'fgo-cg-'));
    const g = join(root, 'system.slice/app.service');
    mkdirSync(g, { recursive: true });
    writeFileSync(join(g, 'cgroup.procs'), '');
    writeFileSync(
      join(g, 'cpu.pressure'),
      'some avg10=12.50 avg60=3.00 avg300=1.00 total=900\nfull avg10=6.25 avg60=1.50 avg300=0.50 total=450\n',
    );
    writeFileSync(join(g, 'memory.pressure'), pressure('memory'));
    writeFileSync(join(g, 'io.pressure'), pressure('io'));
    const roots = { ...resolveRoots({ fsRoot: '/nonexistent' }), cgroup: root };
    const r = readCgroupPressure(roots, '/system.slice/app.service');
    expect(r.available).toBe(true);
    // 12.50 % → 0.125, 6.25 % → 0.0625 — cgroup-level cpu full is meaningful
    if (r.available)
      expect(r.psi.cpu).toEqual({
        some: { avg10: 0.125, avg60: 0.03, avg300: 0.01, total_us: 900 },
        full: { avg10: 0.0625, avg60: 0.015, avg300: 0.005, total_us: 450 },
      });
    const gone = readCgroupPressure(roots, '/system.slice/exited.service');
    expect(gone).toMatchObject({ available: false, gone: true });
  });

  it('parses the cgroup v2 line of /proc/PID/cgroup', () => {
    expect(parseCgroupV2Path('12:cpuset:/x\n0::/user.slice/a.scope\n')).toBe('/user.slice/a.scope');
    expect(parseCgroupV2Path('0::/\n\0')).toBe('/');
    expect(parseCgroupV2Path('4:memory:/x\n')).toBe(undefined);
  });
});

describe('this machine', () => {
  const inRange = (l: { avg10: number; avg60: number; avg300: number; total_us?: number }) => {
    for (const v of [l.avg10, l.avg60, l.avg300]) expect(v >= 0 && v <= 1).toBe(true);
    expect(Number.isSafeInteger(l.total_us) && l.total_us! >= 0).toBe(true);
  };

  it.skipIf(!existsSync('/proc/pressure/cpu'))(
    'reads the real /proc/pressure: fractions in 0–1, totals monotonic, full ≤ some',
    () => {
      const roots = resolveRoots();
      const a = readPressure(roots);
      const b = readPressure(roots);
      expect(a.available && b.available).toBe(true);
      if (!a.available || !b.available) return;
      for (const r of RESOURCES) {
        inRange(a.psi[r].some);
        if (a.psi[r].full) inRange(a.psi[r].full!);
        expect(b.psi[r].some.total_us!).toBeGreaterThanOrEqual(a.psi[r].some.total_us!);
      }
      for (const r of ['memory', 'io'] as const)
        expect(a.psi[r].full!.total_us!).toBeLessThanOrEqual(a.psi[r].some.total_us!);
      if (a.irq) inRange(a.irq);
    },
  );

  it('reads the real cgroup v2 pressure of this process where the hierarchy has it', () => {
    const mount = readFileSync('/proc/mounts', 'latin1')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
    const path = parseCgroupV2Path(readFileSync('/proc/self/cgroup', 'latin1'));
    if (!mount || !path || !existsSync(join(mount, path, 'cpu.pressure'))) return; // no cgroup v2 PSI here
    const r = readCgroupPressure({ ...resolveRoots(), cgroup: mount }, path);
    expect(r.available).toBe(true);
    if (r.available) for (const res of RESOURCES) inRange(r.psi[res].some);
  });
});
