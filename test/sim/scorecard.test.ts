/**
 * The scorecard (sim/scorecard.ts): the same scorecard.json, byte for byte, and the same
 * metrics.json in every run directory, whether the runs go on this thread or on 1 or 2 worker
 * threads (2 scenarios × 3 policies, 20 simulated seconds); the verdict in it is verdictFor's;
 * every problem with the choice named at once; an output directory replaced only when empty or an
 * earlier scorecard.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../formats/errors.ts';
import {
  mergeScorecardShards,
  outDirProblem,
  planScorecard,
  runScorecard,
  runScorecardShard,
  SCORECARD_FORMAT,
  scorecardJobs,
  scorecardJson,
  scorecardKeys,
  type ScorecardDoc,
  type ScorecardPlan,
} from '../../sim/scorecard.ts';
import { verdictFor } from '../../sim/verdict.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-scorecard-test-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const SCENARIOS = ['default', 'psi-replay-1n'];
const POLICIES = ['engine', 'least-loaded', 'numad'];
const read = (f: string) => readFileSync(f, 'utf8');

let plan: ScorecardPlan;
const docs = new Map<number, { doc: ScorecardDoc; json: string }>();

beforeAll(async () => {
  plan = planScorecard({ scenarios: SCENARIOS, policies: POLICIES, duration_s: 20 });
  for (const workers of [0, 1, 2]) {
    const doc = await runScorecard(plan, join(TMP, `w${workers}`), { workers });
    docs.set(workers, { doc, json: read(join(TMP, `w${workers}`, 'scorecard.json')) });
  }
}, 300_000);

describe('a scorecard of 2 scenarios × 3 policies', () => {
  it('scorecard.json is the same bytes with 0, 1 and 2 worker threads, and holds no wall-clock figure', () => {
    const one = docs.get(0)?.json as string;
    expect(docs.get(1)?.json).toBe(one);
    expect(docs.get(2)?.json).toBe(one);
    expect(one).toBe(scorecardJson(docs.get(0)?.doc as ScorecardDoc));
    expect(one).not.toMatch(/"wall|events_per_s|rss|decision_latency/);
  });

  it('writes DIR/SCENARIO/POLICY run directories whose metrics.json are identical whatever the workers', () => {
    for (const w of [0, 1, 2])
      expect(readdirSync(join(TMP, `w${w}`)).sort()).toEqual([
        '.fgo-output',
        'default',
        'psi-replay-1n',
        'scorecard.json',
      ]);
    for (const s of SCENARIOS) {
      for (const p of POLICIES) {
        const dir = (w: number) => join(TMP, `w${w}`, s, p);
        expect(readdirSync(dir(2)).sort()).toEqual([
          '.fgo-output',
          'decisions.jsonl',
          'faults.json',
          'forecasts.csv',
          'histograms.json',
          'metrics.json',
          'run.json',
          'timeseries.csv',
          'wall.json',
        ]);
        expect(read(join(dir(1), 'metrics.json'))).toBe(read(join(dir(0), 'metrics.json')));
        expect(read(join(dir(2), 'metrics.json'))).toBe(read(join(dir(0), 'metrics.json')));
        expect(JSON.parse(read(join(dir(2), 'run.json')))).toMatchObject({
          policy: p,
          scenario: { name: s, duration: 20 },
          versions: { fgo: plan.versions.fgo },
        });
      }
    }
    expect(readdirSync(TMP).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it("holds its inputs, every run's metrics and verdictFor's verdict on them", () => {
    const doc = docs.get(0)?.doc as ScorecardDoc;
    expect(doc.format).toBe(SCORECARD_FORMAT);
    expect(doc.inputs).toMatchObject({
      scenarios: SCENARIOS,
      policies: POLICIES,
      duration_s: 20,
      runs: { default: { seed: 1, duration_s: 20, dirs: { numad: 'default/numad' } } },
    });
    for (const s of SCENARIOS) {
      const m = doc.metrics[s] as Record<string, { requests: { arrived: number } }>;
      // Identical arrivals: every policy saw the same requests.
      expect(new Set(POLICIES.map((p) => m[p]?.requests.arrived)).size).toBe(1);
      expect(m.engine).toEqual(JSON.parse(read(join(TMP, 'w0', s, 'engine', 'metrics.json'))));
      expect(doc.verdict.scenarios[s]).toEqual(verdictFor(s, m));
    }
    const decided = [...doc.verdict.engine_wins, ...doc.verdict.engine_loses, ...doc.verdict.undecided].sort();
    expect(decided).toEqual([...SCENARIOS].sort());
  });
});

describe('planning and the output directory', () => {
  it('names every problem at once: unknown scenario and policy, no engine, duplicates', () => {
    let e: unknown;
    try {
      planScorecard({
        scenarios: ['default', 'no-such', 'default'],
        policies: ['random', 'fifo', 'random'],
        duration_s: null,
      });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).exitCode).toBe(2);
    expect((e as InputError).problems).toEqual([
      expect.stringMatching(/^--policies: 'fifo' is not one of engine, random, round-robin, /),
      "--policies: 'random' twice",
      '--policies: must include engine: the verdict compares the engine with the best baseline',
      "--scenarios: 'default' twice",
      expect.stringMatching(/^scenario 'no-such': neither a bundled scenario/),
    ]);
    expect(() => planScorecard({ scenarios: ['default'], policies: ['engine'], duration_s: null })).toThrow(
      /needs at least one baseline beside the engine/,
    );
  });

  it('runs the longest scenarios first; each job writes its own run directory', () => {
    const p = planScorecard({
      scenarios: ['psi-replay-1n', 'default'],
      policies: ['engine', 'numad'],
      duration_s: null,
    });
    // default is 10 min, psi-replay-1n 320 s.
    expect(scorecardJobs(p, '/o').map((j) => [j.key, j.out])).toEqual([
      ['default/engine', '/o/default/engine'],
      ['default/numad', '/o/default/numad'],
      ['psi-replay-1n/engine', '/o/psi-replay-1n/engine'],
      ['psi-replay-1n/numad', '/o/psi-replay-1n/numad'],
    ]);
  });

  it('takes a new, empty or earlier-scorecard directory; refuses anything else, saying how to proceed', async () => {
    expect(outDirProblem(join(TMP, 'absent'))).toBeUndefined();
    mkdirSync(join(TMP, 'empty'));
    expect(outDirProblem(join(TMP, 'empty'))).toBeUndefined();
    expect(outDirProblem(join(TMP, 'w0'))).toBeUndefined();
    mkdirSync(join(TMP, 'mine'));
    writeFileSync(join(TMP, 'mine', 'notes.txt'), 'keep me');
    expect(outDirProblem(join(TMP, 'mine'))).toBe(
      `--out ${join(TMP, 'mine')}: exists, is not empty and was not written by fgo (no .fgo-output in it), so it is left alone: name a new directory, or add --force to replace it and everything in it`,
    );
    expect(outDirProblem(join(TMP, 'mine'), true)).toBeUndefined();
    writeFileSync(join(TMP, 'file'), '');
    expect(outDirProblem(join(TMP, 'file'))).toBe(
      `--out ${join(TMP, 'file')}: exists and is a file, not a directory; name a new directory`,
    );

    // Replacing an earlier scorecard leaves only the new one (no stale runs of the old).
    const small = planScorecard({ scenarios: ['psi-replay-1n'], policies: ['engine', 'random'], duration_s: 5 });
    await runScorecard(small, join(TMP, 'w0'), { workers: 0 });
    expect(readdirSync(join(TMP, 'w0')).sort()).toEqual(['.fgo-output', 'psi-replay-1n', 'scorecard.json']);
    expect(readdirSync(join(TMP, 'w0', 'psi-replay-1n')).sort()).toEqual(['engine', 'random']);
    // A directory filled by someone else while the runs went on is not replaced: the result stays in DIR.tmp-PID-XXXXXX.
    const late = join(TMP, 'late');
    const run = runScorecard(small, late, { workers: 0 });
    mkdirSync(late);
    writeFileSync(join(late, 'notes.txt'), 'keep me');
    await expect(run).rejects.toThrow(/the scorecard is complete in .*late\.tmp-/);
    expect(read(join(late, 'notes.txt'))).toBe('keep me');
    const kept = readdirSync(TMP).filter((n) => n.startsWith(`late.tmp-${process.pid}-`));
    expect(kept).toHaveLength(1);
    expect(existsSync(join(TMP, kept[0] as string, 'scorecard.json'))).toBe(true);
  }, 300_000);
});

describe('shards (--shard i/n, then merge)', () => {
  it('shards 0/2 and 1/2 take alternate runs of the plan and merge into the unsharded scorecard.json and run directories', async () => {
    // The plan's order: default's engine, least-loaded, numad, then psi-replay-1n's: positions 0, 2, 4 go to shard 0.
    expect(scorecardKeys(plan)).toEqual([
      'default/engine',
      'default/least-loaded',
      'default/numad',
      'psi-replay-1n/engine',
      'psi-replay-1n/least-loaded',
      'psi-replay-1n/numad',
    ]);
    const k0 = await runScorecardShard(plan, { index: 0, count: 2 }, join(TMP, 'shard-0'), { workers: 2 });
    const k1 = await runScorecardShard(plan, { index: 1, count: 2 }, join(TMP, 'shard-1'), { workers: 0 });
    expect(k0).toEqual(['default/engine', 'default/numad', 'psi-replay-1n/least-loaded']);
    expect(k1).toEqual(['default/least-loaded', 'psi-replay-1n/engine', 'psi-replay-1n/numad']);
    const files = [1, 0].map((i) => join(TMP, `shard-${i}`, 'shard.json'));
    await mergeScorecardShards(
      files.map((file) => ({ file, doc: JSON.parse(read(file)) })),
      join(TMP, 'merged'),
    );
    expect(read(join(TMP, 'merged', 'scorecard.json'))).toBe(docs.get(0)?.json);
    for (const key of scorecardKeys(plan)) {
      for (const f of ['metrics.json', 'decisions.jsonl'])
        expect(read(join(TMP, 'merged', key, f)), `${key}/${f}`).toBe(read(join(TMP, 'w1', key, f)));
    }
  }, 300_000);
});
