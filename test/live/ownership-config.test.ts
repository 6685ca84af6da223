/**
 * The inputs of ownership and adoption: the live config's new rule selectors (uid, exe) and its
 * bounds on every number, with field paths; the ownership record's parser (owned.json), which
 * must trust nothing it cannot check; a property test of each parser: any document gives a list
 * of problems or a config, never another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { engineBounds, LiveConfigError, parseLiveConfig } from '../../live/config.ts';
import { parseLedger } from '../../live/ownership.ts';
import { compileRules, exeMatches, spoofable } from '../../live/selectors.ts';
import { liveConfigProblems } from '../helpers.ts';

const problemsOf = liveConfigProblems;
const adopt = (rule: Record<string, unknown>) => ({
  mode: 'adopt',
  adopt: { rules: [{ profile: 'b', ...rule }] },
  engine: { profiles: { b: {} } },
});
const pool = (over: Record<string, unknown>) => ({
  mode: 'pool',
  pool: { workers: { w: { command: ['/bin/true'] } }, ...over },
  engine: { profiles: { w: {} } },
});

describe('adopt rule selectors', () => {
  it('uid (one or a list) and exe (absolute, exact or a prefix ending in /) are selectors on their own', () => {
    expect(problemsOf(adopt({ uid: 0 }))).toEqual([]);
    expect(problemsOf(adopt({ uid: [0, 1000], exe: '/usr/bin/stress-ng' }))).toEqual([]);
    expect(problemsOf(adopt({ exe: '/opt/app/' }))).toEqual([]);
  });

  it('refuses a bad uid or exe, by path', () => {
    expect(problemsOf(adopt({ uid: -1 }))).toEqual([expect.stringMatching(/^adopt\.rules\.0\.uid: /)]);
    expect(problemsOf(adopt({ uid: 4_294_967_295 }))).toEqual([expect.stringMatching(/^adopt\.rules\.0\.uid: /)]);
    expect(problemsOf(adopt({ uid: [] }))).toEqual([expect.stringMatching(/^adopt\.rules\.0\.uid: /)]);
    expect(problemsOf(adopt({ uid: 'root' }))).toEqual([expect.stringMatching(/^adopt\.rules\.0\.uid: /)]);
    for (const exe of [
      'stress-ng',
      'bin/stress-ng',
      '/usr/../tmp/x',
      '/usr/./bin/x',
      '/a\0b',
      `/${'x'.repeat(5000)}`,
    ]) {
      expect(problemsOf(adopt({ exe })), exe).toEqual([expect.stringMatching(/^adopt\.rules\.0\.exe: /)]);
    }
  });

  it('exe matching: exact, or under a prefix ending in /; a replaced binary ("(deleted)") matches neither', () => {
    expect(exeMatches('/usr/bin/stress-ng', '/usr/bin/stress-ng')).toBe(true);
    expect(exeMatches('/usr/bin/stress-ng', '/usr/bin/stress-ng2')).toBe(false);
    expect(exeMatches('/usr/bin/stress-ng', '/usr/bin/stress-ng (deleted)')).toBe(false);
    expect(exeMatches('/opt/app/', '/opt/app/bin/x')).toBe(true);
    expect(exeMatches('/opt/app/', '/opt/application')).toBe(false);
  });

  it('a rule is spoofable when only the command line decides', () => {
    expect(spoofable({ profile: 'b', cmdline: 'x' })).toBe(true);
    for (const extra of [{ uid: 0 }, { exe: '/x' }, { cgroup: '/a/**' }, { pids: [1] }])
      expect(spoofable({ profile: 'b', cmdline: 'x', ...extra })).toBe(false);
    expect(compileRules([{ profile: 'b', uid: [0, 5] }])[0]?.uids).toEqual(new Set([0, 5]));
  });
});

describe('every number of the live config is bounded', () => {
  it('pool.start_backoff: defaults, bounds, initial ≤ max', () => {
    expect(parseLiveConfig(pool({}), '/etc/fgo').pool.start_backoff).toEqual({
      initial_ms: 500,
      max_ms: 30_000,
      open_after: 5,
      stable_ms: 10_000,
    });
    expect(problemsOf(pool({ start_backoff: { open_after: 0 } }))).toEqual([
      expect.stringMatching(/^pool\.start_backoff\.open_after: /),
    ]);
    expect(problemsOf(pool({ start_backoff: { max_ms: 1e12 } }))).toEqual([
      expect.stringMatching(/^pool\.start_backoff\.max_ms: /),
    ]);
    expect(problemsOf(pool({ start_backoff: { initial_ms: 5_000, max_ms: 1_000 } }))).toEqual([
      'pool.start_backoff: initial_ms 5000 is above max_ms 1000',
    ]);
  });

  it('triggers, strings, env and worker counts have bounds', () => {
    const t = problemsOf({ ...pool({}), triggers: [{ resource: 'cpu', stall_us: 1e15, window_us: 1e15 }] });
    expect(t).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^triggers\.0\.stall_us: /),
        expect.stringMatching(/^triggers\.0\.window_us: /),
      ]),
    );
    expect(problemsOf({ ...pool({}), listen: 'x'.repeat(1000) })).toEqual([expect.stringMatching(/^listen: /)]);
    const env = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`V${i}`, 'x']));
    expect(problemsOf(pool({ workers: { w: { command: ['/bin/true'], env } } }))).toEqual([
      'pool.workers.w.env: at most 256 environment variables',
    ]);
    const workers = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, { command: ['/bin/true'] }]));
    expect(problemsOf({ mode: 'pool', pool: { workers } })).toContain('pool.workers: at most 64 worker profiles');
  });

  it('the engine section: absurd durations, sizes and counts are refused with their path and unit', () => {
    const p = problemsOf({
      ...pool({}),
      engine: {
        scaling: { interval_ms: 1e10 },
        profiles: { w: { memory_kb: 2 ** 50, cold_start_ms: 1e10, shaping: { rate_per_s: 1e9, burst: 1e9 } } },
      },
    });
    expect([...p].sort()).toEqual(
      [
        'engine.profiles.w.memory_kb: 1125899906842624 is out of range: at most 1099511627776 KiB (1 PiB)',
        'engine.profiles.w.cold_start_ms: 10000000000 is out of range: at most 86400000 ms (one day)',
        'engine.profiles.w.shaping.rate_per_s: 1000000000 is out of range: at most 1000000 per second',
        'engine.profiles.w.shaping.burst: 1000000000 is out of range: at most 1000000',
        'engine.scaling.interval_ms: 10000000000 is out of range: at most 86400000 ms (one day)',
      ].sort(),
    );
    expect(engineBounds({ a_s: 86_401, b: [1, 2e6] }, 'x')).toEqual([
      'x.a_s: 86401 is out of range: at most 86400 s (one day)',
      'x.b.1: 2000000 is out of range: at most 1000000',
    ]);
  });

  it('property: any JSON document yields a config or a LiveConfigError with field paths, never another exception', () => {
    const doc = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record(
        {
          mode: fc.constantFrom('adopt', 'pool'),
          pool: fc.jsonValue({ maxDepth: 3 }),
          adopt: fc.jsonValue({ maxDepth: 3 }),
          engine: fc.jsonValue({ maxDepth: 3 }),
        },
        { requiredKeys: [] },
      ),
      fc.record({
        mode: fc.constant('adopt'),
        adopt: fc.record({
          rules: fc.array(
            fc.record(
              {
                profile: fc.string(),
                uid: fc.jsonValue({ maxDepth: 1 }),
                exe: fc.jsonValue({ maxDepth: 1 }),
                cmdline: fc.string(),
              },
              { requiredKeys: ['profile'] },
            ),
            { maxLength: 3 },
          ),
        }),
      }),
    );
    fc.assert(
      fc.property(doc, (d) => {
        try {
          parseLiveConfig(d, '/etc/fgo');
        } catch (e) {
          if (!(e instanceof LiveConfigError)) throw e;
          for (const p of e.problems) expect(typeof p).toBe('string');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseLedger (owned.json)', () => {
  it('keeps well-formed records only; refuses what is not a version 1 record', () => {
    const text = JSON.stringify({
      version: 1,
      workers: [
        { pid: 10, starttime: 5, fragment: 'echo-0', profile: 'echo' },
        { pid: -1, starttime: 5, fragment: 'x', profile: 'y' },
        { pid: 11, starttime: '5', fragment: 'x', profile: 'y' },
        null,
        7,
      ],
      groups: ['/sys/fs/cgroup/cpuset/fgo/echo-0', 'relative/x', 3, '/a\0b'],
    });
    expect(parseLedger(text)).toEqual({
      workers: [{ pid: 10, starttime: 5, fragment: 'echo-0', profile: 'echo' }],
      groups: ['/sys/fs/cgroup/cpuset/fgo/echo-0'],
    });
    expect(parseLedger('{"version":2}')).toBe('not a version 1 ownership record');
    expect(parseLedger('null')).toBe('not a version 1 ownership record');
    expect(parseLedger('{"version":1')).toMatch(/^not JSON/);
    expect(parseLedger('['.repeat(100))).toBe('nested too deep');
  });

  it('property: any text gives records that are all well-formed, or a reason; never an exception', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          version: fc.constant(1),
          workers: fc.array(fc.jsonValue({ maxDepth: 2 })),
          groups: fc.array(fc.jsonValue({ maxDepth: 1 })),
        })
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = parseLedger(t);
        if (typeof r === 'string') return true;
        return (
          r.workers.every(
            (w) =>
              Number.isSafeInteger(w.pid) &&
              w.pid > 0 &&
              Number.isSafeInteger(w.starttime) &&
              w.starttime >= 0 &&
              typeof w.fragment === 'string' &&
              typeof w.profile === 'string',
          ) && r.groups.every((g) => typeof g === 'string' && g.startsWith('/'))
        );
      }),
      { numRuns: 500 },
    );
  });
});
