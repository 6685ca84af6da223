import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, parseConfig, profileOf } from '../../engine/config.ts';
import { configProblems } from '../helpers.ts';

/** The problems a document is rejected with (fails the test when it is accepted). */
const problemsOf = configProblems;

describe('parseConfig: design defaults', () => {
  it('{} gives the pressure thresholds of the design', () => {
    const c = parseConfig({});
    expect(c.pressure.thresholds.cpu).toEqual({ low: 0.3, medium: 0.6, high: 0.8, critical: 0.9 });
    expect(c.pressure.thresholds.memory).toEqual({ low: 0.2, medium: 0.5, high: 0.7, critical: 0.85 });
    expect(c.pressure.thresholds.io).toEqual({ low: 0.4, medium: 0.6, high: 0.8, critical: 0.9 });
  });

  it('{} gives the placement weights 0.4 / 0.3 / 0.2 / 0.1 (summing to 1) and the other placement seeds', () => {
    const c = parseConfig({});
    expect(c.placement.weights).toEqual({ resource: 0.4, locality: 0.3, affinity: 0.2, balance: 0.1 });
    const w = c.placement.weights;
    expect(w.resource + w.locality + w.affinity + w.balance).toBeCloseTo(1, 12); // 0.4+0.3+0.2+0.1 = 1
    expect(c.placement.cpu_share).toBe(0.6); // resource = cpu × 0.6 + memory × 0.4
    expect(c.placement.pressure_penalty).toBe(0.3);
    expect(c.placement.near_best_margin).toBe(0.02);
    expect(c.placement.cpu_overcommit).toBe(1);
  });

  it('{} fills every section (spot checks) and a default profile', () => {
    const c = parseConfig({});
    expect(c.pressure.signal).toBe('total');
    expect(c.pressure.history_size).toBe(120);
    expect(c.admission).toMatchObject({
      retry_base_ms: 1000,
      retry_max_ms: 30000,
      retry_jitter: 0.2,
      max_defer_ms: 30000,
    });
    expect(c.health.heartbeat_timeout_ms).toBe(15000);
    expect(c.default_profile).toMatchObject({
      cpus: 1,
      memory_kb: 262144,
      pool: { min: 0, target: 0, max: 64 },
      preferred_nodes: [],
      cpu_affinity: [],
      shaping: null,
    });
    expect(c.profiles).toEqual({});
    expect(c.limits.max_fragments).toBe(100000);
  });

  it('null/undefined count as {}; defaultConfig() equals parseConfig({})', () => {
    expect(parseConfig(undefined)).toEqual(parseConfig({}));
    expect(parseConfig(null)).toEqual(parseConfig({}));
    expect(defaultConfig()).toEqual(parseConfig({}));
  });

  it('a partial section keeps the defaults of its other fields', () => {
    const c = parseConfig({
      pressure: { thresholds: { cpu: { low: 0.1 } } },
      placement: { weights: { resource: 0.5, balance: 0 } },
    });
    expect(c.pressure.thresholds.cpu).toEqual({ low: 0.1, medium: 0.6, high: 0.8, critical: 0.9 });
    expect(c.pressure.thresholds.memory.low).toBe(0.2);
    // 0.5 + 0.3 + 0.2 + 0 = 1
    expect(c.placement.weights).toEqual({ resource: 0.5, locality: 0.3, affinity: 0.2, balance: 0 });
  });

  it('profiles get the profile defaults; profileOf falls back to default_profile', () => {
    const c = parseConfig({ profiles: { api: { memory_kb: 1024, pool: { min: 1, target: 2, max: 4 } } } });
    expect(c.profiles.api).toMatchObject({
      cpus: 1,
      memory_kb: 1024,
      pool: { min: 1, target: 2, max: 4 },
      io_intensive: false,
    });
    expect(profileOf(c, 'api').memory_kb).toBe(1024);
    expect(profileOf(c, 'other')).toBe(c.default_profile);
  });
});

describe('parseConfig: rejections', () => {
  it('rejects an unknown top-level key', () => {
    expect(problemsOf({ bogus: 1 })).toEqual(['bogus: unknown key']);
  });

  it('rejects unknown nested keys, naming the full path of each', () => {
    expect(problemsOf({ pressure: { thresholds: { cpu: { nope: 1 } } } })).toEqual([
      'pressure.thresholds.cpu.nope: unknown key',
    ]);
    expect(problemsOf({ placement: { weights: { speed: 0 } } })).toEqual(['placement.weights.speed: unknown key']);
    expect(problemsOf({ profiles: { api: { pool: { min: 0, spare: 1 } } } })).toEqual([
      'profiles.api.pool.spare: unknown key',
    ]);
    // two unknown keys in one object: one line each
    expect(problemsOf({ health: { a: 1, b: 2 } })).toEqual(['health.a: unknown key', 'health.b: unknown key']);
  });

  it('rejects out-of-range values, naming each path', () => {
    const cases: Array<[unknown, string]> = [
      [{ pressure: { thresholds: { cpu: { high: 1.2 } } } }, 'pressure.thresholds.cpu.high'], // fraction ≤ 1
      [{ pressure: { thresholds: { io: { low: -0.1 } } } }, 'pressure.thresholds.io.low'], // fraction ≥ 0
      [{ placement: { weights: { resource: 1.5 } } }, 'placement.weights.resource'],
      [{ placement: { near_best_margin: -1 } }, 'placement.near_best_margin'],
      [{ placement: { cpu_overcommit: 0 } }, 'placement.cpu_overcommit'], // min 0.1
      [{ placement: { cpu_overcommit: 65 } }, 'placement.cpu_overcommit'], // max 64
      [{ admission: { retry_jitter: 0.95 } }, 'admission.retry_jitter'], // max 0.9
      [{ health: { max_attempts: 0 } }, 'health.max_attempts'], // min 1
      [{ pressure: { history_size: 1 } }, 'pressure.history_size'], // min 2
      [{ scaling: { interval_ms: 1.5 } }, 'scaling.interval_ms'], // integer ms
      [{ pressure: { signal: 'avg60' } }, 'pressure.signal'], // 'total' | 'avg10'
      [{ profiles: { api: { cpus: 0 } } }, 'profiles.api.cpus'], // positive
      [{ profiles: { api: { pool: { max: -1 } } } }, 'profiles.api.pool.max'], // ≥ 0
    ];
    for (const [doc, path] of cases) {
      const p = problemsOf(doc);
      // the range problem comes first; a consequence (e.g. thresholds no longer rising) may follow
      expect(p[0], JSON.stringify(doc)).toMatch(new RegExp(`^${path.replace(/\./g, '\\.')}: `));
    }
    // a value in range is accepted at the edges: 0 and 1 for fractions, 0.1 and 64 for overcommit
    expect(() => parseConfig({ placement: { cpu_overcommit: 0.1, near_best_margin: 1 } })).not.toThrow();
    expect(() => parseConfig({ placement: { cpu_overcommit: 64, near_best_margin: 0 } })).not.toThrow();
  });

  it('rejects a profile name outside the allowed characters', () => {
    const p = problemsOf({ profiles: { 'bad name!': {} } });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^profiles\.bad name!: /);
  });

  it('rejects a document that is not an object', () => {
    expect(problemsOf([])[0]).toMatch(/^\(top level\): /);
    expect(problemsOf(5)[0]).toMatch(/^\(top level\): /);
  });

  it('rejects thresholds that do not rise strictly', () => {
    // cpu: low 0.6 = medium 0.6 (default) → not strictly rising
    expect(problemsOf({ pressure: { thresholds: { cpu: { low: 0.6 } } } })).toEqual([
      'pressure.thresholds.cpu: must rise strictly low < medium < high < critical (got 0.6, 0.6, 0.8, 0.9)',
    ]);
    // memory: high 0.9 > critical 0.85 (default)
    expect(problemsOf({ pressure: { thresholds: { memory: { high: 0.9 } } } })).toEqual([
      'pressure.thresholds.memory: must rise strictly low < medium < high < critical (got 0.2, 0.5, 0.9, 0.85)',
    ]);
  });

  it('accepts rising thresholds that differ from the defaults', () => {
    const c = parseConfig({ pressure: { thresholds: { io: { low: 0.1, medium: 0.2, high: 0.3, critical: 0.4 } } } });
    expect(c.pressure.thresholds.io).toEqual({ low: 0.1, medium: 0.2, high: 0.3, critical: 0.4 });
  });

  it('rejects weights that do not sum to 1, accepts ones that do within 1e-6', () => {
    // 0.5 + 0.3 + 0.2 + 0.1 = 1.1
    expect(problemsOf({ placement: { weights: { resource: 0.5 } } })).toEqual([
      expect.stringMatching(/^placement\.weights: must sum to 1 \(got 1\.1/),
    ]);
    // 0.3 + 0.3 + 0.2 + 0.1 = 0.9
    expect(problemsOf({ placement: { weights: { resource: 0.3 } } })).toEqual([
      expect.stringMatching(/^placement\.weights: must sum to 1 \(got 0\.9/),
    ]);
    // 0.25 × 4 = 1
    expect(
      parseConfig({ placement: { weights: { resource: 0.25, locality: 0.25, affinity: 0.25, balance: 0.25 } } })
        .placement.weights.balance,
    ).toBe(0.25);
    // 0.4000005 + 0.3 + 0.2 + 0.1 = 1.0000005, off by 5e-7 < 1e-6
    expect(() => parseConfig({ placement: { weights: { resource: 0.4000005 } } })).not.toThrow();
  });

  it('enforces pool min ≤ target ≤ max for the default profile and every named profile', () => {
    expect(problemsOf({ profiles: { api: { pool: { min: 3, target: 2, max: 5 } } } })).toEqual([
      'profiles.api.pool: must satisfy min ≤ target ≤ max (got 3, 2, 5)', // 3 > 2
    ]);
    expect(problemsOf({ default_profile: { pool: { target: 70 } } })).toEqual([
      'default_profile.pool: must satisfy min ≤ target ≤ max (got 0, 70, 64)', // 70 > default max 64
    ]);
    // equal bounds are fine
    expect(parseConfig({ profiles: { api: { pool: { min: 2, target: 2, max: 2 } } } }).profiles.api?.pool).toEqual({
      min: 2,
      target: 2,
      max: 2,
    });
  });

  it('rejects the other cross-field constraints', () => {
    expect(problemsOf({ admission: { retry_base_ms: 40_000 } })).toEqual([
      'admission.retry_base_ms: must not exceed admission.retry_max_ms',
    ]); // 40000 > 30000
    expect(problemsOf({ health: { heartbeat_interval_ms: 15_000 } })).toEqual([
      'health.heartbeat_interval_ms: must be below health.heartbeat_timeout_ms',
    ]); // 15000 ≥ 15000
  });

  it('reports several shape problems at once', () => {
    const p = problemsOf({
      bogus: 1,
      placement: { near_best_margin: 3 }, // > 1
      health: { max_attempts: 0, colour: 'red' }, // < 1, unknown key
      scaling: { interval_ms: -5 }, // not positive
    });
    expect([...p].sort()).toEqual([
      'bogus: unknown key',
      'health.colour: unknown key',
      expect.stringMatching(/^health\.max_attempts: /),
      expect.stringMatching(/^placement\.near_best_margin: /),
      expect.stringMatching(/^scaling\.interval_ms: /),
    ]);
  });

  it('reports shape and cross-field problems of one document together', () => {
    const p = problemsOf({
      pressure: { thresholds: { cpu: { low: 'x', medium: 0.1 } } }, // 'x' not a number; then 0.3 (default) ≥ 0.1
      placement: { weights: { balance: 0.5 } }, // 0.4+0.3+0.2+0.5 = 1.4
    });
    expect(p).toEqual([
      expect.stringMatching(/^pressure\.thresholds\.cpu\.low: /),
      'pressure.thresholds.cpu: must rise strictly low < medium < high < critical (got 0.3, 0.1, 0.8, 0.9)',
      expect.stringMatching(/^placement\.weights: must sum to 1 \(got 1\.4/),
    ]);
  });

  it('reports several cross-field problems at once', () => {
    const p = problemsOf({
      pressure: { thresholds: { memory: { low: 0.6 }, io: { high: 0.95 } } }, // memory 0.6 ≥ 0.5; io 0.95 ≥ 0.9
      placement: { weights: { balance: 0.2 } }, // 0.4+0.3+0.2+0.2 = 1.1
      default_profile: { pool: { target: 70 } }, // 70 > 64
      profiles: { a: { pool: { min: 3, target: 2 } } }, // 3 > 2
      admission: { retry_base_ms: 31_000 }, // > 30000
      health: { heartbeat_interval_ms: 20_000 }, // ≥ 15000
    });
    expect(p).toEqual([
      'pressure.thresholds.memory: must rise strictly low < medium < high < critical (got 0.6, 0.5, 0.7, 0.85)',
      'pressure.thresholds.io: must rise strictly low < medium < high < critical (got 0.4, 0.6, 0.95, 0.9)',
      expect.stringMatching(/^placement\.weights: must sum to 1 \(got 1\.09999/),
      'admission.retry_base_ms: must not exceed admission.retry_max_ms',
      'health.heartbeat_interval_ms: must be below health.heartbeat_timeout_ms',
      'default_profile.pool: must satisfy min ≤ target ≤ max (got 0, 70, 64)',
      'profiles.a.pool: must satisfy min ≤ target ≤ max (got 3, 2, 64)',
    ]);
  });

  it('ConfigError carries the problems in its message', () => {
    try {
      parseConfig({ bogus: 1, placement: { near_best_margin: 2 } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).name).toBe('ConfigError');
      expect((e as ConfigError).problems).toHaveLength(2);
      expect((e as Error).message).toContain('bogus');
      expect((e as Error).message).toContain('placement.near_best_margin');
    }
  });
});
