/**
 * The journaled engine and replay: a journal rebuilt into a fresh engine gives the same results,
 * byte for byte; any tampering shows up as a difference at the call it touched.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.ts';
import type { Decision, Observation } from '../../engine/types.ts';
import { JournaledEngine, type JournalEntry } from '../../live/port.ts';
import { replay } from '../../live/replay.ts';
import { line, topology } from './journal-fixture.ts';

const obs = (t_ms: number, memory = 0): Observation => ({
  t_ms,
  psi: { cpu: line(0), memory: line(memory), io: line(0) },
});

function journal(seed = 'j') {
  const lines: string[] = [];
  // web's 30-s SLO leaves time to wait out memory pressure: the deferral draws its jittered retry from the seed.
  const config = parseConfig({
    profiles: {
      web: { latency_slo_ms: 30_000, pool: { min: 1, target: 1, max: 4 } },
      batch: { cpus: 1, memory_kb: 1024 },
    },
  });
  const e = new JournaledEngine(
    { type: 'start', epoch: 1, wall_ms: 0, version: 'test', mode: 'pool', seed, config, topology },
    { append: (x) => lines.push(JSON.stringify(x)) },
  );
  return { e, entries: () => lines.map((l) => JSON.parse(l) as JournalEntry) };
}

/** A small live-like session: scale-up, requests, completions, an adoption and its release, an engine refusal. */
function session(e: JournaledEngine): void {
  const o0 = obs(0);
  e.tick(o0);
  const start = e.tick(obs(1_000));
  for (const c of start) if (c.type === 'start') e.started(c.fragment, obs(1_200));
  for (let i = 0; i < 5; i++) {
    const o = obs(2_000 + i * 100, i === 3 ? 0.85 : 0);
    const d = e.schedule({ id: `r${i}`, profile: 'web', cpus: 0.5, memory_kb: 1000, priority: 1 }, o);
    if (d.action === 'place' && d.fragment !== undefined) {
      if (d.start === 'cold') e.started(d.fragment, obs(2_050 + i * 100));
      e.complete(d.fragment, { ok: true, latency_ms: 12.5 }, obs(2_080 + i * 100));
    }
  }
  e.adopt({ id: 'pid42', profile: 'batch', memory_home: 1 }, obs(3_000));
  e.release('pid42', 'exited', obs(4_000));
  // Unknown now: the engine throws, and the journaled engine throws it on once it is journalled as { error }.
  expect(() => e.release('pid42', 'again', obs(4_001))).toThrow('unknown fragment pid42');
  e.tick(obs(40_000));
}

/** A call the engine refuses is journalled as { error } and thrown on; like the agent, the session goes on. */
function goOn(call: () => unknown): void {
  try {
    call();
  } catch {
    /* journalled */
  }
}

describe('replay', () => {
  it('replays a session with no difference, counting calls and decisions', () => {
    const { e, entries } = journal();
    session(e);
    const r = replay(entries());
    expect(r.differences).toEqual([]);
    expect(r.problems).toEqual([]);
    expect(r.unchecked).toEqual([]);
    expect(r.epochs).toBe(1);
    expect(r.decisions).toBe(6); // 5 schedules + 1 adoption
    const errors = entries().filter(
      (x) => x.type === 'call' && typeof x.out === 'object' && x.out !== null && 'error' in x.out,
    );
    expect(errors).toHaveLength(1);
  });

  it('journals each observation object once, however many calls use it', () => {
    const { e, entries } = journal();
    const o = obs(5);
    e.tick(o);
    e.schedule({ id: 'a', profile: 'web', cpus: 0, memory_kb: 0, priority: 1 }, o);
    expect(entries().filter((x) => x.type === 'obs')).toHaveLength(1);
    expect(
      entries()
        .filter((x) => x.type === 'call')
        .map((x) => (x as { obs: number }).obs),
    ).toEqual([1, 1]);
  });

  it('a tampered result, another seed or a missing observation are each reported', () => {
    const { e, entries } = journal();
    session(e);
    const tampered = entries();
    const i = tampered.findIndex((x) => x.type === 'call' && x.op === 'schedule');
    (tampered[i] as { out: Decision }).out.node = 99;
    const r = replay(tampered);
    expect(r.differences).toHaveLength(1);
    expect(r.differences[0]).toMatchObject({ epoch: 1, op: 'schedule' });

    const reseeded = entries().map((x) => (x.type === 'start' ? { ...x, seed: 'other' } : x));
    expect(replay(reseeded).differences.length).toBeGreaterThan(0);

    const noObs = entries().filter((x) => !(x.type === 'obs' && x.n === 1));
    const missing = replay(noObs);
    expect(missing.problems).toEqual(['entry 2: epoch 1 call 1: observation 1 missing from the journal']);
    // The engine missed that call, so nothing after it in the epoch is compared, and the report says so.
    expect(missing.unchecked).toEqual([
      expect.stringMatching(
        /^\d+ entries \(\d+ engine calls\) from entry 3 to entry \d+ not checked: observation 1 is missing at entry 2$/,
      ),
    ]);
    expect(missing.calls).toBe(0);
  });

  it('entries before the first header (rotated away) are reported as not checked, with how many', () => {
    const a = journal(),
      b = journal();
    session(a.e);
    session(b.e);
    const tail = a.entries().slice(5);
    const r = replay([...tail, ...b.entries()]);
    expect(r.epochs).toBe(1);
    expect(r.differences).toEqual([]);
    expect(r.problems).toEqual([]);
    const calls = tail.filter((x) => x.type === 'call').length;
    expect(r.unchecked).toEqual([
      `${tail.length} entries (${calls} engine calls) from entry 1 to entry ${tail.length} not checked: their epoch's start entry is not in the journal (its segment was removed by retention)`,
    ]);
  });

  it('a bad start, unknown entries, a gap: problems and unchecked runs with hand-counted sizes, never a throw', () => {
    const { e, entries } = journal();
    e.tick(obs(0));
    e.tick(obs(1_000));
    const all = entries(); // start, obs 1, call, obs 2, call
    expect(all.map((x) => x.type)).toEqual(['start', 'obs', 'call', 'obs', 'call']);
    const start = all[0] as Extract<JournalEntry, { type: 'start' }>;
    const r = replay([
      { ...start, topology: { nodes: 'none' } },
      all[1],
      all[2],
      all[3],
      all[4], // 1–5: no engine for 2–5
      null,
      42,
      { type: 'call', op: 'fly', args: [], obs: 1 }, // 6–8: nonsense
      start,
      all[1],
      all[2], // 9–11: one call checked
      { type: 'gap', lost_entries: 7 },
      all[3],
      all[4], // 12–14: after the gap, unchecked
    ]);
    expect(r.epochs).toBe(1);
    expect(r.calls).toBe(1);
    expect(r.problems).toEqual([
      'entry 1: start entry cannot build an engine: invalid topology:; nodes: must be a non-empty array',
      'entry 6: not a journal entry (type missing)',
      'entry 7: not a journal entry (type missing)',
      'entry 8: call entry lacks a known op, an args array or an integer obs',
    ]);
    expect(r.unchecked).toEqual([
      '4 entries (2 engine calls) from entry 2 to entry 5 not checked: their start entry at entry 1 is invalid',
      '2 entries (1 engine calls) from entry 13 to entry 14 not checked: the journal dropped 7 entries before them at entry 12 while the disk refused writes',
    ]);
  });

  it('property: any sequence of requests, completions and ticks replays identically', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('schedule', 'tick', 'complete'),
            dt: fc.integer({ min: 0, max: 5_000 }),
            cpu: fc.double({ min: 0, max: 1, noNaN: true }),
            prio: fc.constantFrom(0, 1, 2, 3),
          }),
          { maxLength: 40 },
        ),
        fc.string({ minLength: 1, maxLength: 8 }),
        (steps, seed) => {
          const { e, entries } = journal(seed);
          let t = 0,
            n = 0;
          const busy: string[] = [];
          for (const s of steps) {
            t += s.dt;
            const o = obs(t, s.cpu);
            const next = busy[0];
            if (s.kind === 'tick') e.tick(o);
            else if (s.kind === 'complete' && next !== undefined) {
              busy.shift();
              goOn(() => e.complete(next, { ok: true, latency_ms: s.dt }, o));
            } else {
              const d = e.schedule({ id: `r${n++}`, profile: 'web', cpus: 0.5, memory_kb: 1000, priority: s.prio }, o);
              const f = d.action === 'place' ? d.fragment : undefined;
              if (f !== undefined) {
                if (d.start === 'cold') goOn(() => e.started(f, o));
                busy.push(f);
              }
            }
          }
          expect(replay(entries()).differences).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('journals written before commands carried what executors need', () => {
  // test/fixtures/journal-v1-restart.jsonl was written by the journaled engine before a restart
  // command named its profile, node and CPUs: a crash, its restart, the restarted worker's ready.
  const fixture = new URL('../fixtures/journal-v1-restart.jsonl', import.meta.url);
  const oldLines = readFileSync(fixture, 'utf8').trimEnd().split('\n');

  /** The session that wrote the fixture, on today's journaled engine. */
  function crashSession() {
    const lines: string[] = [];
    const config = parseConfig({ profiles: { web: { latency_slo_ms: 30_000, pool: { min: 1, target: 1, max: 4 } } } });
    const e = new JournaledEngine(
      { type: 'start', epoch: 1, wall_ms: 0, version: 'test', mode: 'pool', seed: 'old', config, topology },
      { append: (x) => lines.push(JSON.stringify(x)) },
    );
    e.tick(obs(0));
    for (const c of e.tick(obs(1_000))) if (c.type === 'start') e.started(c.fragment, obs(1_200));
    const d = e.schedule({ id: 'r1', profile: 'web', cpus: 0.5, memory_kb: 1000, priority: 1 }, obs(2_000));
    const f = d.fragment ?? '';
    const afterCrash = e.failed(f, 'exit code 1', obs(2_500));
    const t = e.tick(obs(3_000));
    for (const c of [...afterCrash, ...t])
      if (c.type === 'restart' || c.type === 'start') e.started(c.fragment, obs(3_200));
    e.tick(obs(10_000));
    return { lines, afterCrash };
  }

  it('replays with no difference', () => {
    const r = replay(oldLines.map((l) => JSON.parse(l) as unknown));
    expect(r).toMatchObject({ epochs: 1, calls: 7, decisions: 1, differences: [], problems: [], unchecked: [] });
  });

  it('the same session today: the restart names profile, node and CPUs; the journal is byte-identical', () => {
    const { lines, afterCrash } = crashSession();
    // The placement was node 0, CPUs 0–1 (the fixture's schedule result); the restart is there again.
    expect(afterCrash.find((c) => c.type === 'restart')).toEqual({
      type: 'restart',
      fragment: 'web-1',
      reason: 'crashed (incident 0, restart attempt 1)',
      timeout_ms: 30_000,
      profile: 'web',
      node: 0,
      cpus: [0, 1],
    });
    expect(lines).toEqual(oldLines);
  });
});
