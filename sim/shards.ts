/**
 * Shards of a multi-run command (`fgo scorecard`, `fgo compare`) for runs spread over machines,
 * as `fgo tune --shard` does for trials: shard i of n takes the runs whose position in the
 * command's fixed run order is i modulo n, and writes DIR/shard.json (its runs' metrics, keyed
 * by run) beside their run directories; merge checks that the shards are of one study and cover
 * every run exactly once, and rebuilds the same result, byte for byte, as the command run whole.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../formats/errors.ts';
import type { MetricsSummary } from './metrics.ts';
import { canonicalJson } from './tune/sweep.ts';

export interface Shard {
  index: number;
  count: number;
}

export const SHARD_FILE = 'shard.json';

/** `--shard i/n` (undefined: not given); a malformed one is a usage error (exit 2). */
export function parseShard(v: string | undefined): Shard | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new InputError([`--shard: '${v}' is not i/n with 0 ≤ i < n`], 2);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** Shard i of n: the items at positions k with k % n === i, in order. */
export const shardOf = <T>(items: readonly T[], s: Shard): T[] => items.filter((_, k) => k % s.count === s.index);

export interface ShardDoc<S> {
  format: string;
  /** Everything that decides the runs' results: shards merge only if theirs are identical. */
  study: S;
  shard: Shard;
  /** The shard's runs' metrics, by run key; each run's directory is DIR/KEY. */
  runs: Record<string, MetricsSummary>;
}

/** A shard argument: the shard's directory or its shard.json. */
export function shardFile(arg: string): string {
  return existsSync(arg) && statSync(arg).isDirectory() ? join(arg, SHARD_FILE) : arg;
}

/**
 * The shards (read by the caller) checked to be one study (their `study` documents identical) and to hold
 * every run of `keysOf(study)` exactly once, each in the shard its position assigns it to; every
 * problem names its file (exit 1). Returns the study, every run's metrics and the shard file that
 * holds each run.
 */
export function checkShards<S>(
  files: ReadonlyArray<{ file: string; doc: unknown }>,
  format: string,
  what: string,
  keysOf: (study: S) => string[],
): { study: S; runs: Map<string, MetricsSummary>; fileOf: Map<string, string> } {
  const problems: string[] = [];
  const shards: Array<{ file: string; doc: ShardDoc<S> }> = [];
  for (const { file, doc } of files) {
    const d = doc as Partial<ShardDoc<S>> | null;
    if (
      !d ||
      typeof d !== 'object' ||
      d.format !== format ||
      !d.study ||
      !d.shard ||
      !d.runs ||
      typeof d.runs !== 'object'
    )
      problems.push(`${file}: not a shard of \`${what} --shard\` (format ${format})`);
    else shards.push({ file, doc: d as ShardDoc<S> });
  }
  const first = shards[0];
  if (!first) throw new InputError(problems.length ? problems : ['no shard files given']);
  const study = first.doc.study,
    n = first.doc.shard.count;
  const keys = keysOf(study);
  const position = new Map(keys.map((k, i) => [k, i]));
  const byIndex = new Map<number, string>();
  const runs = new Map<string, MetricsSummary>();
  const fileOf = new Map<string, string>();
  for (const { file, doc } of shards) {
    const a = study as Record<string, unknown>,
      b = doc.study as Record<string, unknown>;
    const differ = Object.keys({ ...a, ...b }).filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
    if (differ.length) {
      problems.push(
        `${file}: not the same study as ${first.file}: ${differ.map((k) => `study.${k}`).join(', ')} differ`,
      );
      continue;
    }
    const { index, count } = doc.shard;
    if (count !== n) {
      problems.push(`${file}: shard ${index}/${count}, but ${first.file} is one of ${n}`);
      continue;
    }
    if (byIndex.has(index)) {
      problems.push(`${file}: shard ${index}/${count} again (also ${byIndex.get(index)})`);
      continue;
    }
    byIndex.set(index, file);
    for (const [key, metrics] of Object.entries(doc.runs)) {
      const at = position.get(key);
      if (at === undefined || at % count !== index)
        problems.push(`${file}: run ${key} does not belong to shard ${index}/${count}`);
      else {
        runs.set(key, metrics);
        fileOf.set(key, file);
      }
    }
  }
  const lost = keys.filter((k) => !runs.has(k));
  if (lost.length && !problems.length) {
    const missing = [...new Set(lost.map((k) => (position.get(k) as number) % n))].sort((x, y) => x - y);
    problems.push(
      `missing runs ${lost.slice(0, 20).join(', ')}${lost.length > 20 ? ', …' : ''} (shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}`).join(', ')})`,
    );
  }
  if (problems.length) throw new InputError(problems);
  return { study, runs, fileOf };
}
