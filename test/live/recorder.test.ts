/**
 * The recorders of live/recorder.ts: `recordPsiTrace` on this machine's real /proc (it has PSI)
 * and on node_exporter's real procfs fixture (exact values worked out by hand from its files), the
 * drift-free schedule with a clock that jumps, early stops, the no-PSI error; `DemandRecorder`
 * against rows worked out by hand. Every file written is read back with formats/workload-traces.ts's and psi-trace.ts's readers.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../formats/errors.ts';
import {
  DemandRecorder,
  RECORDER_EXTRA_COLUMNS,
  RECORDER_HEADER,
  recordPsiTrace,
  sampleHostRow,
} from '../../live/recorder.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { readPsiTrace } from '../../formats/psi-trace.ts';
import { readDemandTrace } from '../../formats/workload-traces.ts';
import { PSI_COLUMNS, type PsiColumn } from '../../formats/psi-columns.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NE = join(ROOT, 'test/fixtures/procfs/node_exporter');
const HAS_PSI = existsSync('/proc/pressure/cpu');

const work = mkdtempSync(join(tmpdir(), 'fgo-recorder-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string) => join(work, `${n++}`, name);

/** The data lines of a file (header excluded), split into fields. */
const dataLines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));

/** A proc root made of copies of node_exporter's files, `pressure` optional, cpu `full` optional. */
function procRoot(o: { pressure: boolean; cpuFull?: boolean }): string {
  const dir = join(work, `proc-${n++}`, 'proc');
  mkdirSync(dir, { recursive: true });
  for (const f of ['stat', 'meminfo']) copyFileSync(join(NE, 'proc', f), join(dir, f));
  if (o.pressure) {
    mkdirSync(join(dir, 'pressure'));
    for (const f of ['cpu', 'memory', 'io']) copyFileSync(join(NE, 'proc/pressure', f), join(dir, 'pressure', f));
    if (o.cpuFull === false)
      writeFileSync(join(dir, 'pressure/cpu'), 'some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n');
  }
  return dir;
}

describe('recordPsiTrace on this host', () => {
  it.skipIf(!HAS_PSI)(
    'records 2.5 s at 500 ms: ≥ 5 rows on the 500 ms grid, counters that only grow, readable by the PSI reader',
    async () => {
      const out = tmp('host.csv');
      const s = await recordPsiTrace({ roots: resolveRoots(), out, duration_s: 2.5, interval_s: 0.5 });
      // Slots at 0, 500, …, 2500 ms: 6, unless the machine stalled so long a slot had to be skipped.
      expect(s.rows + s.missed).toBe(6);
      expect(s.rows).toBeGreaterThanOrEqual(5);
      expect(s.stopped).toBe('duration');

      const trace = readPsiTrace(out);
      expect(trace.skipped).toEqual([]);
      expect(trace.rows.length).toBe(s.rows);
      expect(trace.columns).toEqual(PSI_COLUMNS); // every PSI column in the header, canonical order
      expect(trace.extraColumns).toEqual([...RECORDER_EXTRA_COLUMNS]);
      expect(readFileSync(out, 'utf8').split('\n')[0]).toBe(RECORDER_HEADER.join(','));

      const t = trace.rows.map((r) => r.t_ms);
      expect(t[0]).toBeLessThan(100);
      for (let i = 1; i < t.length; i++) expect(t[i]!).toBeGreaterThan(t[i - 1]!);
      for (const v of t) {
        // Drift-free: each sample sits just after its slot k·500 (never before it), not 500 after the previous sample.
        const late = v - Math.floor(v / 500) * 500;
        expect(late).toBeLessThan(200);
      }
      expect(s.duration_s).toBe(t.at(-1)! / 1000);

      const totals = PSI_COLUMNS.filter((c) => c.endsWith('_total_us'));
      for (let i = 1; i < trace.rows.length; i++) {
        const [a, b] = [trace.rows[i - 1]!, trace.rows[i]!];
        for (const c of totals)
          if (a.values[c] !== undefined) expect(b.values[c]!).toBeGreaterThanOrEqual(a.values[c]!);
        for (const c of ['cpu_busy_jiffies', 'cpu_total_jiffies'])
          expect(Number(b.extra![c])).toBeGreaterThanOrEqual(Number(a.extra![c]));
      }
      for (const r of trace.rows) {
        expect(Number(r.extra!.mem_available_kb)).toBeGreaterThan(0);
        expect(Number(r.extra!.cpu_busy_jiffies)).toBeLessThanOrEqual(Number(r.extra!.cpu_total_jiffies));
        // /proc/stat's task counts at the sample: the recorder itself is running while it reads them.
        expect(Number(r.extra!.procs_running)).toBeGreaterThanOrEqual(1);
        expect(Number(r.extra!.procs_blocked)).toBeGreaterThanOrEqual(0);
        // some lines exist on every PSI kernel; averages within 0–100 (the reader checked the range).
        for (const res of ['cpu', 'mem', 'io']) expect(r.values[`${res}_some_avg10` as PsiColumn]).toBeDefined();
      }
      // Averages exactly as the kernel prints them: two decimals.
      for (const fields of dataLines(out)) {
        PSI_COLUMNS.forEach((c, i) => {
          const v = fields[i + 1]!;
          if (v !== '') expect(v).toMatch(c.endsWith('_total_us') ? /^\d+$/ : /^\d{1,3}\.\d\d$/);
        });
      }
    },
  );

  it.skipIf(!HAS_PSI)('appends and flushes each row before the next is taken', async () => {
    const out = tmp('flushed.csv');
    const seen: number[] = [];
    await recordPsiTrace({
      roots: resolveRoots(),
      out,
      duration_s: 0.3,
      interval_s: 0.1,
      onRow: ({ index }) => seen.push(readFileSync(out, 'utf8').trim().split('\n').length - 1 - index),
    });
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((d) => d === 1)).toBe(true); // header + index+1 rows on disk when onRow runs
  });
});

describe('recordPsiTrace on a fixture procfs', () => {
  it("writes the kernel's numbers as printed (node_exporter's files, worked out by hand)", () => {
    const cells = sampleHostRow(resolveRoots({ procfsRoot: join(NE, 'proc') }));
    expect(cells).toEqual([
      // cpu some, cpu full ("full avg10=0.00 … total=0")
      '0.00',
      '0.00',
      '0.00',
      '14036781',
      '0.00',
      '0.00',
      '0.00',
      '0',
      // memory some, full
      '0.00',
      '0.00',
      '0.00',
      '0',
      '0.00',
      '0.00',
      '0.00',
      '0',
      // io: "some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802", full … total=159229614
      '0.18',
      '0.34',
      '0.10',
      '159886802',
      '0.18',
      '0.34',
      '0.10',
      '159229614',
      // "cpu  301854 612 111922 8979004 3552 2 3944 0 44 36": total = 301854+612+111922+8979004+3552+2+3944+0
      // = 9400890 (guest 44 and guest_nice 36 are inside user and nice already); busy = total − idle − iowait
      // = 9400890 − 8979004 − 3552 = 418334. This meminfo has no MemAvailable line: empty cell.
      '418334',
      '9400890',
      '',
      // "procs_running 2", "procs_blocked 0"
      '2',
      '0',
    ]);
  });

  it('writes every average and total exactly as the pressure file prints it (property over random files)', () => {
    const proc = procRoot({ pressure: true });
    const roots = resolveRoots({ procfsRoot: proc });
    const hundredths = fc.integer({ min: 0, max: 10_000 });
    const line = fc.tuple(hundredths, hundredths, hundredths, fc.maxSafeNat());
    const pct = (h: number) => `${Math.floor(h / 100)}.${String(h % 100).padStart(2, '0')}`;
    const text = (kind: string, [a, b, c, t]: [number, number, number, number]) =>
      `${kind} avg10=${pct(a)} avg60=${pct(b)} avg300=${pct(c)} total=${t}`;
    fc.assert(
      fc.property(fc.array(fc.tuple(line, line), { minLength: 3, maxLength: 3 }), (files) => {
        const want: string[] = [];
        (['cpu', 'memory', 'io'] as const).forEach((f, i) => {
          const [some, full] = files[i]!;
          writeFileSync(join(proc, 'pressure', f), `${text('some', some)}\n${text('full', full)}\n`);
          for (const l of [some, full]) want.push(pct(l[0]), pct(l[1]), pct(l[2]), String(l[3]));
        });
        expect(sampleHostRow(roots).slice(0, 24)).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves the cpu full cells empty on a kernel that prints no cpu full line', async () => {
    const out = tmp('nofull.csv');
    await recordPsiTrace({
      roots: resolveRoots({ procfsRoot: procRoot({ pressure: true, cpuFull: false }) }),
      out,
      duration_s: 0.1,
      interval_s: 0.1,
    });
    const trace = readPsiTrace(out);
    expect(trace.rows.length).toBe(2);
    for (const r of trace.rows) {
      expect(r.values.cpu_full_avg10).toBeUndefined();
      expect(r.values.cpu_full_total_us).toBeUndefined();
      expect(r.values.cpu_some_total_us).toBe(14036781);
      expect(r.values.io_full_avg300).toBe(0.1);
    }
    expect(dataLines(out)[0]!.slice(5, 9)).toEqual(['', '', '', '']);
  });

  it('samples on the grid start + k·interval, 11 rows for 1 s at 100 ms', async () => {
    const out = tmp('grid.csv');
    const s = await recordPsiTrace({
      roots: resolveRoots({ procfsRoot: join(NE, 'proc') }),
      out,
      duration_s: 1,
      interval_s: 0.1,
    });
    expect(s.rows + s.missed).toBe(11);
    const t = readPsiTrace(out).rows.map((r) => r.t_ms);
    // What the recorder promises is one sample per slot, in order — not how punctually a loaded
    // machine wakes it inside the slot (a bound on that failed once with both CPUs busy: 77 ms).
    expect(new Set(t.map((v) => Math.floor(v / 100))).size).toBe(t.length); // one sample per slot
    for (let i = 1; i < t.length; i++) expect(t[i]!).toBeGreaterThan(t[i - 1]!);
  });

  it('skips the slots a stall swallowed instead of bunching samples up (clock jumps 350 ms after the first)', async () => {
    const out = tmp('stall.csv');
    let jump = 0;
    const s = await recordPsiTrace({
      roots: resolveRoots({ procfsRoot: join(NE, 'proc') }),
      out,
      duration_s: 0.6,
      interval_s: 0.1,
      now: () => performance.now() + jump,
      onRow: ({ index }) => {
        if (index === 0) jump = 350;
      },
    });
    // Row 0 at ~0; then the clock reads ~350: slots 1, 2, 3 (100–300 ms) are gone, the next is 400.
    expect(s.missed).toBeGreaterThanOrEqual(3);
    expect(s.rows + s.missed).toBe(7);
    const t = readPsiTrace(out).rows.map((r) => r.t_ms);
    expect(t[1]!).toBeGreaterThanOrEqual(400);
    for (let i = 1; i < t.length; i++) expect(t[i]!).toBeGreaterThan(t[i - 1]!);
  });

  it('stops cleanly on an abort signal and keeps every row taken', async () => {
    const out = tmp('abort.csv');
    const stop = new AbortController();
    const s = await recordPsiTrace({
      roots: resolveRoots({ procfsRoot: join(NE, 'proc') }),
      out,
      duration_s: 60,
      interval_s: 0.1,
      signal: stop.signal,
      onRow: ({ index }) => {
        if (index === 2) stop.abort();
      },
    });
    expect(s).toMatchObject({ rows: 3, stopped: 'signal' });
    expect(readPsiTrace(out).rows.length).toBe(3);
  });

  it('refuses a kernel without PSI with the reason, before creating the file', async () => {
    const out = tmp('nopsi.csv');
    const proc = procRoot({ pressure: false });
    const err = await recordPsiTrace({ roots: resolveRoots({ procfsRoot: proc }), out, duration_s: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).problems).toEqual([
      `cannot record a PSI trace: ${join(proc, 'pressure')}: not present — this kernel has no PSI (older than 4.20, built without CONFIG_PSI, or booted with psi=0); PSI-driven decisions fall back to utilization`,
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('never overwrites a file that exists unless told to replace it (exclusive create)', async () => {
    const out = tmp('taken.csv');
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, 'mine\n');
    const err = await recordPsiTrace({ roots: resolveRoots(), out, duration_s: 0.1, interval_s: 0.1 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe(
      `${out}: exists; fgo does not replace a file it cannot prove it wrote (--force replaces it)`,
    );
    expect(readFileSync(out, 'utf8')).toBe('mine\n');
    await recordPsiTrace({ roots: resolveRoots(), out, replace: true, duration_s: 0.1, interval_s: 0.1 });
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe(RECORDER_HEADER.join(','));
  });

  it('refuses intervals under 100 ms and non-positive durations', async () => {
    const roots = resolveRoots({ procfsRoot: join(NE, 'proc') });
    const err = await recordPsiTrace({ roots, out: tmp('x.csv'), duration_s: 0, interval_s: 0.05 }).catch(
      (e: unknown) => e,
    );
    expect((err as InputError).problems).toEqual([
      'duration must be above 0 s, got 0',
      'interval must be at least 100 ms, got 50 ms',
    ]);
  });
});

// `fgo record` end to end, once cli/main.ts registers the command (it is not this file's to edit).
const REGISTERED = readFileSync(join(ROOT, 'cli/main.ts'), 'utf8').includes('registerRecordCommand');

describe('fgo record (CLI)', () => {
  const fgo = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/fgo.mjs'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it.skipIf(!REGISTERED || !HAS_PSI)('records with --json: one JSON object on stdout', () => {
    const out = tmp('cli.csv');
    const r = fgo('record', '--duration', '1s', '--interval', '250ms', '--out', out, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { ok: boolean; rows: number; missed: number; file: string; stopped: string };
    expect(s).toMatchObject({ ok: true, file: out, stopped: 'duration' });
    expect(s.rows + s.missed).toBe(5);
    expect(readPsiTrace(out).rows.length).toBe(s.rows);
  });

  it.skipIf(!REGISTERED)('exits 1 with the reason on a host without PSI', () => {
    const dir = join(procRoot({ pressure: false }), '..');
    const r = fgo('record', '--duration', '1s', '--out', tmp('cli-nopsi.csv'), '--fs-root', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot record a PSI trace');
    expect(r.err).toContain('this kernel has no PSI');
  });
});

describe('DemandRecorder', () => {
  it('writes finished intervals with 0 rows for profiles seen before (hand-worked rows)', () => {
    const file = tmp('demand.csv');
    const d = new DemandRecorder(file, 10);
    d.count('web', 1_000);
    d.count('web', 9_999);
    d.count('batch', 12_000);
    d.count('web', 25_000);
    d.flush(29_999); // intervals [0,10) and [10,20) have ended; [20,30) has not
    expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n0,web,2\n10,batch,1\n10,web,0\n');
    d.flush(30_000); // [20,30) ends exactly at 30 s
    d.count('api', 31_000);
    d.flush(35_000); // nothing new: [30,40) is open
    d.count('web', 45_000);
    d.close(47_000); // [30,40) finished; [40,50) partly elapsed, written too
    expect(readFileSync(file, 'utf8')).toBe(
      [
        't_s,profile,count',
        '0,web,2', // 1 000 and 9 999 ms
        '10,batch,1', // 12 000 ms; web seen before, none here
        '10,web,0',
        '20,batch,0',
        '20,web,1', // 25 000 ms
        '30,api,1', // 31 000 ms
        '30,batch,0',
        '30,web,0',
        '40,api,0',
        '40,batch,0',
        '40,web,1', // 45 000 ms
        '',
      ].join('\n'),
    );
    expect(d.rowsWritten).toBe(11);
    const trace = readDemandTrace(file);
    expect(trace.skipped).toEqual([]);
    expect(trace.rows.slice(0, 3)).toEqual([
      { t_s: 0, profile: 'web', count: 2 },
      { t_s: 10, profile: 'batch', count: 1 },
      { t_s: 10, profile: 'web', count: 0 },
    ]);
    expect(trace.rows.reduce((a, r) => a + r.count, 0)).toBe(6);
    expect(() => d.count('web', 50_000)).toThrow(/closed/);
  });

  it('writes empty intervals between arrivals as zeros, and nothing before the first arrival', () => {
    const file = tmp('gaps.csv');
    const d = new DemandRecorder(file, 0.5);
    d.count('fn', 1_200); // interval [1, 1.5)
    d.count('fn', 2_600, 3); // interval [2.5, 3)
    d.close(3_000); // [2.5, 3) has ended; nothing is open at 3 s
    expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n1,fn,1\n1.5,fn,0\n2,fn,0\n2.5,fn,3\n');
    expect(readDemandTrace(file).rows.map((r) => r.t_s)).toEqual([1, 1.5, 2, 2.5]);
  });

  it('takes Date.now()-sized clocks without walking the intervals before the first arrival', () => {
    const file = tmp('epoch.csv');
    const d = new DemandRecorder(file, 60);
    const t0 = 1_800_000_000_000; // 1.8e12 ms = interval 30 000 000 of 60 s, t_s 1.8e9
    d.count('web', t0 + 59_000);
    d.flush(t0 + 60_000);
    d.close(t0 + 60_000);
    expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n1800000000,web,1\n');
  });

  it('counts an arrival in an interval already written into the first open one, as late', () => {
    const file = tmp('late.csv');
    const d = new DemandRecorder(file, 10);
    d.count('web', 5_000);
    d.flush(10_000);
    d.count('web', 7_000); // [0,10) is written: counted in [10,20)
    d.close(20_000);
    expect(d.late).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n0,web,1\n10,web,1\n');
  });

  it('appends to an existing trace without a second header, its time carrying on from the last interval, and quotes odd profile names', () => {
    const file = tmp('resume.csv');
    const a = new DemandRecorder(file, 10, { warn: () => {} });
    a.count('web', 3_000);
    a.count('a,b', 13_000);
    a.close(20_000);
    // A restarted agent's clock starts again at 0: its t = 0 is the end of the file's last interval (t_s 10 + 10 = 20 s).
    const warned: string[] = [];
    const b = new DemandRecorder(file, 10, { warn: (m) => warned.push(m) });
    expect(warned).toEqual([`demand trace ${file}: continuing after t_s 10; this run's arrivals count from t_s 20 on`]);
    b.count('web', 15_000); // 20 + 15 = 35 s: interval 30
    b.count('web', 41_000); // 61 s: interval 60
    b.close(50_000); // 70 s: intervals up to 60 written
    expect(b.late).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(
      't_s,profile,count\n0,web,1\n10,"a,b",1\n10,web,0\n30,"a,b",0\n30,web,1\n40,"a,b",0\n40,web,0\n50,"a,b",0\n50,web,0\n60,"a,b",0\n60,web,1\n',
    );
    // Interval 20 (the new run's first 10 s) had no arrival and comes before the run's first: no rows, as for a new file.
    const trace = readDemandTrace(file);
    expect(trace.rows.filter((r) => r.profile === 'a,b').map((r) => r.t_s)).toEqual([10, 30, 40, 50, 60]);
  });

  it('a torn last line (a crash mid-write) is cut off with a warning, and arrivals after the restart keep their intervals', () => {
    const file = tmp('torn.csv');
    const a = new DemandRecorder(file, 10, { warn: () => {} });
    a.count('web', 3_000);
    a.count('web', 12_000);
    a.close(20_000);
    expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n0,web,1\n10,web,1\n');
    for (const torn of ['20,web,3', '20,we']) {
      // a whole-looking row (it may have been "20,web,37") and one that would not parse
      writeFileSync(file, `t_s,profile,count\n0,web,1\n10,web,1\n${torn}`);
      const warned: string[] = [];
      const b = new DemandRecorder(file, 10, { warn: (m) => warned.push(m) });
      expect(warned).toEqual([
        `demand trace ${file}: cut off a torn last line ${JSON.stringify(torn)} (${torn.length} bytes without a newline: a write cut short by a crash)`,
        `demand trace ${file}: continuing after t_s 10; this run's arrivals count from t_s 20 on`,
      ]);
      b.count('web', 1_000); // 21 s
      b.count('web', 2_000); // 22 s
      b.count('web', 15_000); // 35 s
      b.close(16_000); // 36 s: the open interval 30 has time in it, so it is written
      expect(b.late).toBe(0);
      expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n0,web,1\n10,web,1\n20,web,2\n30,web,1\n');
      expect(readDemandTrace(file).rows).toHaveLength(4);
    }
    // A torn header: nothing whole is left, so the file starts again with the header.
    writeFileSync(file, 't_s,prof');
    const warned: string[] = [];
    const c = new DemandRecorder(file, 10, { warn: (m) => warned.push(m) });
    c.count('web', 500);
    c.close(10_000);
    expect(warned).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toBe('t_s,profile,count\n0,web,1\n');
  });

  it('property: a trace cut at any byte reopens without error and keeps every whole row before the cut', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ profile: fc.constantFrom('web', 'a,b', 'job'), t_ms: fc.integer({ min: 0, max: 60_000 }) }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (arrivals, where) => {
          const file = tmp('cut.csv');
          const a = new DemandRecorder(file, 5, { warn: () => {} });
          for (const x of [...arrivals].sort((p, q) => p.t_ms - q.t_ms)) a.count(x.profile, x.t_ms);
          a.close(60_000);
          const text = readFileSync(file, 'utf8');
          const cut = Math.floor(where * text.length);
          writeFileSync(file, text.slice(0, cut));
          const whole = text.slice(0, text.lastIndexOf('\n', cut - 1) + 1); // the lines the cut left whole
          const b = new DemandRecorder(file, 5, { warn: () => {} });
          b.close(0);
          const header = 't_s,profile,count\n';
          expect(readFileSync(file, 'utf8')).toBe(whole.length ? whole : header);
          readDemandTrace(file); // reads back
        },
      ),
      { numRuns: 100 },
    );
  });

  it('will not append to a file that is not a demand trace', () => {
    const file = tmp('other.csv');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 't_ms,cpu_some_avg10\n0,1.5\n');
    expect(() => new DemandRecorder(file, 10)).toThrow(InputError);
    expect(readFileSync(file, 'utf8')).toBe('t_ms,cpu_some_avg10\n0,1.5\n');
  });

  it('rejects bad arguments', () => {
    const d = new DemandRecorder(tmp('bad.csv'), 1);
    expect(() => d.count('', 0)).toThrow(RangeError);
    expect(() => d.count('x', -1)).toThrow(RangeError);
    expect(() => d.count('x', Number.NaN)).toThrow(RangeError);
    expect(() => d.count('x', 0, 1.5)).toThrow(RangeError);
    expect(() => new DemandRecorder(tmp('bad2.csv'), 0)).toThrow(RangeError);
    d.close(0);
  });
});
