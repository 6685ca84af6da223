/**
 * engine/ must stay a pure, deterministic core: no I/O, clock, Math.random, timers, native
 * modules or await. Checked twice: statically over the source, and at run time by running a
 * whole scenario with the clock and Math.random booby-trapped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildTopology, Orchestrator, parseConfig, type Observation } from '../../engine/index.ts';

const ENGINE = new URL('../../engine/', import.meta.url).pathname;
/** Pure-JS packages the engine may use: validation and seeded randomness. */
const ALLOWED_PACKAGES = new Set(['zod', 'seedrandom']);
const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDate\.now\b|\bnew Date\b|\bDate\(/, 'clock (Date)'],
  [/\bperformance\b/, 'clock (performance)'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bprocess\b/, 'process (env, clock, I/O)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'timers'],
  [/\bawait\b|\basync\b|\bPromise\b/, 'asynchrony'],
  [/\brequire\s*\(|\bimport\s*\(/, 'dynamic loading'],
  [/\bglobalThis\b|\bfetch\s*\(/, 'globals / network'],
];

/** Source without comments and string contents, so prose that mentions "await" does not count. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g, (s) =>
      /^['"]\.{1,2}\//.test(s) ? s : '""',
    );
}

function violations(file: string, text: string): string[] {
  const out: string[] = [];
  const body = code(text);
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1] as string;
    if (spec.startsWith('./') && !spec.includes('/', 2)) continue;
    if (!ALLOWED_PACKAGES.has(spec)) out.push(`${file}: imports '${spec}'`);
  }
  for (const [re, what] of FORBIDDEN) if (re.test(body)) out.push(`${file}: uses ${what} (${re})`);
  return out;
}

describe('engine purity', () => {
  it('no engine file imports I/O or native modules or touches clocks, randomness, timers, await', () => {
    const files = readdirSync(ENGINE).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    const found = files.flatMap((f) => violations(f, readFileSync(join(ENGINE, f), 'utf8')));
    expect(found).toEqual([]);
  });

  it('the checker itself catches each kind of violation', () => {
    const bad = [
      `import { readFileSync } from 'node:fs';`,
      `import koffi from 'koffi';`,
      `import x from '../sim/clock.ts';`,
      `const t = Date.now();`,
      `const r = Math.random();`,
      `setTimeout(() => 0, 1);`,
      `export async function f() { await g(); }`,
      `const e = process.env.HOME;`,
      `const m = await import('./x.ts');`,
    ];
    for (const line of bad) expect(violations('x.ts', line), line).not.toEqual([]);
    expect(violations('x.ts', `import { z } from 'zod';\n// we never await here\nconst s = "Date.now()";`)).toEqual([]);
  });
});

describe('engine at run time', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs a scenario with Date, performance.now and Math.random trapped', () => {
    const trap = () => {
      throw new Error('engine touched the clock or Math.random');
    };
    vi.spyOn(Math, 'random').mockImplementation(trap);
    vi.spyOn(Date, 'now').mockImplementation(trap);
    vi.spyOn(performance, 'now').mockImplementation(trap);
    const topology = buildTopology({
      nodes: [
        { id: 0, cpus: [0, 1], memory_kb: 4_000_000, distances: [10, 21] },
        { id: 1, cpus: [2, 3], memory_kb: 4_000_000, distances: [21, 10] },
      ],
      online_cpus: [0, 1, 2, 3],
      allowed_cpus: [0, 1, 2, 3],
      allowed_nodes: [0, 1],
    });
    const engine = new Orchestrator({
      config: parseConfig({ profiles: { a: { pool: { min: 1, target: 2, max: 4 } } } }),
      topology,
      seed: 's',
    });
    const line = (v: number) => ({ some: { avg10: v, avg60: v, avg300: v } });
    const obs = (t_ms: number, cpu: number): Observation => ({
      t_ms,
      psi: { cpu: line(cpu), memory: line(0.6), io: line(0.2) },
    });
    engine.tick(obs(0, 0.1));
    for (let i = 0; i < 50; i++) {
      const d = engine.schedule(
        { id: `r${i}`, profile: 'a', cpus: 0.5, memory_kb: 1000, priority: (i % 4) as 0 | 1 | 2 | 3 },
        obs(100 * i + 1, i % 10 === 0 ? 0.85 : 0.5),
      );
      if (d.action === 'place' && d.start === 'cold') engine.started(d.fragment as string, obs(100 * i + 2, 0.5));
      if (d.fragment) engine.complete(d.fragment, { ok: i % 7 !== 0, latency_ms: 50 }, obs(100 * i + 3, 0.5));
    }
    expect(engine.tick(obs(60_000, 0.1)).length).toBeGreaterThan(0);
  });
});
