/**
 * A command's output directory (fgo sim, compare, scorecard): refused before any work when it may
 * not be replaced, built beside it and renamed into place when complete; a shard's summary line.
 */
import { roundTo } from '../engine/round.ts';
import { join } from 'node:path';
import { commitDir, discardTemp, makeTempDir } from '../formats/files.ts';
import { InputError } from '../formats/errors.ts';
import { outputDirProblem } from '../formats/outputs.ts';
import { SHARD_FILE, type Shard } from '../sim/shards.ts';

/** Refuse an --out that exists and may not be replaced, before any work (exit 2, a bad run input). */
export function checkOutDir(out: string, force: boolean): void {
  const problem = outputDirProblem('--out', out, force);
  if (problem) throw new InputError([problem], 2);
}

/**
 * Build a command's output in a temporary directory beside `out` (fgo's marker in it) and rename
 * it into place only when complete, and only if `out` may still be replaced.
 */
export async function buildOutput<T>(out: string, force: boolean, build: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = makeTempDir(out);
  try {
    const r = await build(tmp);
    checkOutDir(out, force); // again: something may have appeared there meanwhile
    commitDir(tmp, out);
    return r;
  } catch (e) {
    discardTemp(tmp);
    throw e;
  }
}

/** Where a shard of a comparison (or of a scorecard) went, on stdout. */
export function printShard(
  what: string,
  out: string,
  shard: Shard,
  keys: readonly string[],
  wall_s: number,
  json: boolean,
): void {
  if (json)
    return void console.log(
      JSON.stringify({
        dir: out,
        shard_file: join(out, SHARD_FILE),
        shard,
        runs: keys,
        wall_s: roundTo(wall_s, 1),
      }),
    );
  console.log(
    `${what} shard ${shard.index}/${shard.count}: ${keys.length} run${keys.length === 1 ? '' : 's'} in ${out}, metrics in ${join(out, SHARD_FILE)} (${wall_s.toFixed(1)} s); join the shards with \`${what} merge\``,
  );
}
