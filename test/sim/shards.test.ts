/**
 * Shards of a multi-run command (sim/shards.ts): `--shard i/n` parsed; shard i of n takes the runs
 * at positions ≡ i (mod n); merge's check names the file of every problem — a shard of another
 * study, one missing, one given twice, a run in the wrong shard — and deploy/scorecard-job.yaml's
 * shard count N agrees in its three places.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../formats/errors.ts';
import type { MetricsSummary } from '../../sim/metrics.ts';
import { checkShards, parseShard, shardOf, type ShardDoc } from '../../sim/shards.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const FORMAT = 'test-shard/1';
type Study = { runs: string[]; seed: number };
const study: Study = { runs: ['a', 'b', 'c', 'd', 'e'], seed: 1 };
const m = (x: number) => ({ x }) as unknown as MetricsSummary;
/** Shard i of n of `s`, each run's metrics its position. */
const shard = (s: Study, index: number, count: number): ShardDoc<Study> => ({
  format: FORMAT,
  study: s,
  shard: { index, count },
  runs: Object.fromEntries(shardOf(s.runs, { index, count }).map((k) => [k, m(s.runs.indexOf(k))])),
});
const check = (docs: Array<[string, unknown]>) =>
  checkShards<Study>(
    docs.map(([file, doc]) => ({ file, doc })),
    FORMAT,
    'fgo test',
    (s) => s.runs,
  );
const problems = (docs: Array<[string, unknown]>): string[] => {
  try {
    check(docs);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).problems;
  }
  throw new Error('accepted');
};

describe('--shard i/n', () => {
  it('parses i/n with 0 ≤ i < n; anything else is a usage error (exit 2)', () => {
    expect(parseShard(undefined)).toBeUndefined();
    expect(parseShard('0/1')).toEqual({ index: 0, count: 1 });
    expect(parseShard('3/4')).toEqual({ index: 3, count: 4 });
    for (const bad of ['4/4', '1/0', '-1/2', '1', 'a/b', '1/2/3']) {
      expect(() => parseShard(bad), bad).toThrow(InputError);
      try {
        parseShard(bad);
      } catch (e) {
        expect((e as InputError).exitCode).toBe(2);
      }
    }
  });

  it('shard i of n takes positions i, i+n, …: 5 runs in 2 shards are a,c,e and b,d', () => {
    expect(shardOf(study.runs, { index: 0, count: 2 })).toEqual(['a', 'c', 'e']);
    expect(shardOf(study.runs, { index: 1, count: 2 })).toEqual(['b', 'd']);
    expect(shardOf(study.runs, { index: 2, count: 3 })).toEqual(['c']);
  });
});

describe('merge checks the shards', () => {
  it("every run once, from shards given in any order: every run's metrics and its file", () => {
    const r = check([
      ['s1.json', shard(study, 1, 2)],
      ['s0.json', shard(study, 0, 2)],
    ]);
    expect(r.study).toEqual(study);
    expect([...r.runs.keys()].sort()).toEqual(study.runs);
    expect(r.runs.get('d')).toEqual(m(3));
    expect(r.fileOf.get('d')).toBe('s1.json');
    expect(r.fileOf.get('e')).toBe('s0.json');
  });

  it('a missing shard: the runs and the shard missing', () => {
    expect(problems([['s0.json', shard(study, 0, 2)]])).toEqual(['missing runs b, d (shard 1/2)']);
  });

  it('a shard given twice, naming both files', () => {
    expect(
      problems([
        ['s0.json', shard(study, 0, 2)],
        ['copy.json', shard(study, 0, 2)],
        ['s1.json', shard(study, 1, 2)],
      ]),
    ).toEqual(['copy.json: shard 0/2 again (also s0.json)']);
  });

  it('a shard of another study, naming what differs; a shard of another split; a file that is no shard', () => {
    expect(
      problems([
        ['s0.json', shard(study, 0, 2)],
        ['other.json', shard({ ...study, seed: 2 }, 1, 2)],
      ]),
    ).toEqual(['other.json: not the same study as s0.json: study.seed differ']);
    expect(
      problems([
        ['s0.json', shard(study, 0, 2)],
        ['s1of3.json', shard(study, 1, 3)],
      ]),
    ).toEqual(['s1of3.json: shard 1/3, but s0.json is one of 2']);
    expect(
      problems([
        ['s0.json', shard(study, 0, 2)],
        ['tune.json', { format: 'fgo-tune-shard/1' }],
        ['s1.json', shard(study, 1, 2)],
      ]),
    ).toEqual(['tune.json: not a shard of `fgo test --shard` (format test-shard/1)']);
  });

  it('a run in a shard it does not belong to', () => {
    const bad = shard(study, 1, 2);
    bad.runs.e = m(4);
    expect(
      problems([
        ['s0.json', shard(study, 0, 2)],
        ['s1.json', bad],
      ]),
    ).toEqual(['s1.json: run e does not belong to shard 1/2']);
  });
});

describe('deploy/scorecard-job.yaml', () => {
  it('N agrees between completions, --shard and the merge list; merge writes the scorecard', () => {
    const y = readFileSync(join(ROOT, 'deploy/scorecard-job.yaml'), 'utf8');
    const n = Number(/\n {2}completions: (\d+)/.exec(y)?.[1]);
    expect(n).toBeGreaterThan(1);
    expect(y).toContain('completionMode: Indexed');
    expect(y).toContain(`--shard=$(JOB_COMPLETION_INDEX)/${n}`);
    expect(y).toContain('--out=/results/shard-$(JOB_COMPLETION_INDEX)');
    expect(y).toContain("fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']");
    expect([...y.matchAll(/^ +- \/results\/shard-(\d+)$/gm)].map((x) => Number(x[1]))).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    expect(y).toMatch(/- scorecard\n\s+- merge\n/);
  });
});
