/**
 * How well `fgo compare` uses the cores (a benchmark, not a test), printed as the `compare` object
 * of docs/formats.md "Benchmark output": `fgo compare --scenario diurnal-8n` run twice on identical
 * inputs, once on one worker thread and once on two, back to back, each as its own `fgo` process;
 *   one_worker_wall_s, two_workers_wall_s   wall time of each whole command (runs, report, files);
 *   ratio                                  two ÷ one: the target is ≤ 0.55 on two cores;
 *   identical                              whether both wrote the same comparison.json (they must).
 * Simulated span 2 h (`--quick`: 30 min; FGO_BENCH_COMPARE_DURATION overrides): the full 24 h
 * takes tens of minutes on one core. Wall time is what a user waits for, so this figure needs an
 * otherwise idle machine: on a shared one the second worker competes with other work and the
 * ratio says more about the neighbours than about fgo. Skipped on a machine with one CPU.
 */
import { roundTo } from '../engine/round.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const duration = process.env.FGO_BENCH_COMPARE_DURATION ?? (quick ? '30m' : '2h');
const fgo = new URL('../bin/fgo.mjs', import.meta.url).pathname;

/** One `fgo compare` on `workers` threads: its wall time and the comparison it wrote. */
function compareOn(workers: number, dir: string): { wall_s: number; comparison: string } {
  const out = join(dir, `w${workers}`);
  const args = ['compare', '--scenario', 'diurnal-8n', '--duration', duration, '--workers', String(workers)];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [fgo, ...args, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall_s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`fgo ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall_s, comparison: readFileSync(join(out, 'comparison.json'), 'utf8') };
}

function main(): void {
  if (availableParallelism() < 2) {
    console.error('bench/compare.ts skipped: one CPU, nothing to spread over');
    if (json) console.log(JSON.stringify({ compare: null }));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fgo-bench-compare-'));
  try {
    const one = compareOn(1, dir);
    const two = compareOn(2, dir);
    const result = {
      scenario: 'diurnal-8n',
      duration,
      one_worker_wall_s: roundTo(one.wall_s, 1),
      two_workers_wall_s: roundTo(two.wall_s, 1),
      ratio: roundTo(two.wall_s / one.wall_s, 2),
      identical: one.comparison === two.comparison,
    };
    if (json) console.log(JSON.stringify({ compare: result }));
    else
      console.log(
        `fgo compare diurnal-8n (${duration}): ${result.one_worker_wall_s} s on 1 worker, ` +
          `${result.two_workers_wall_s} s on 2 — ratio ${result.ratio} (target ≤ 0.55), ` +
          `comparison.json ${result.identical ? 'identical' : 'DIFFERS'}`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
