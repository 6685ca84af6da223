/**
 * `fgo tradeoff`: the cold-start / idle-memory curve of predictive warm pools (the engine at
 * several covers of its pools' concurrency) against a fixed keep-alive (a baseline at several keep-alives), and the
 * headline comparison at the defaults (sim/tradeoff.ts).
 */
import type { Command } from 'commander';
import { FIXED_KEEP_ALIVE_BASELINES, type BaselineName } from '../sim/baselines.ts';
import { writeFileAtomic } from '../formats/files.ts';
import { assertOutputFile } from '../formats/outputs.ts';
import { parseDuration_s } from '../formats/duration.ts';
import { formatTradeoff, runTradeoff } from '../sim/tradeoff.ts';
import { InputError } from '../formats/errors.ts';
import { SCENARIO_FLAGS, takesOne } from './flag-aliases.ts';
import { prepare } from './prepare.ts';
import { progressBar } from './progress.ts';

interface TradeoffFlags {
  scenario: string;
  duration?: string;
  seed?: string;
  config?: string;
  covers: string;
  keepalives: string;
  baseline: string;
  out?: string;
  force?: boolean;
  json?: boolean;
}

function numbers(
  flag: string,
  v: string,
  parse: (x: string) => number,
  ok: (x: number) => boolean,
  what: string,
): number[] {
  const items = v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InputError([`${flag}: empty list`], 2);
  return items.map((x) => {
    let n: number;
    try {
      n = parse(x);
    } catch {
      n = NaN;
    }
    if (!Number.isFinite(n) || !ok(n)) throw new InputError([`${flag}: '${x}' is not ${what}`], 2);
    return n;
  });
}

export function registerTradeoff(program: Command): void {
  takesOne(program.command('tradeoff'), SCENARIO_FLAGS, 'run fgo tradeoff once per scenario')
    .description(
      "cold starts against idle warm memory: the engine covering several percentiles of its pools' concurrency vs a baseline at several keep-alives, on identical arrivals",
    )
    .option('--scenario <name|file>', 'a bundled scenario or a scenario JSON file', 'diurnal-8n')
    .option('--duration <d>', "simulated time of each run, e.g. 6h (default: the scenario's)")
    .option('--seed <n>', 'seed of every random stream')
    .option(
      '--config <file>',
      "engine config JSON laid over the scenario's key by key (or the result of fgo tune: its tuned config)",
    )
    .option(
      '--covers <list>',
      "percentiles of each pool's concurrency the engine keeps warm (scaling.cover; 0.999, the default, is always run)",
      '0.9,0.99,0.999,0.9999',
    )
    .option('--keepalives <list>', 'baseline keep-alives (10m, the usual, is always run)', '1m,2m,5m,10m,20m')
    .option(
      '--baseline <policy>',
      `the fixed-keep-alive policy: ${FIXED_KEEP_ALIVE_BASELINES.join(', ')}`,
      'least-loaded',
    )
    .option('--out <file.json>', 'write the curve and the headline as JSON')
    .option('--force', 'replace --out if it exists (fgo never replaces a file it cannot prove it wrote)')
    .option('--json', 'print one JSON object instead of the table')
    .addHelpText(
      'after',
      '\nExample:\n  $ fgo tradeoff --scenario diurnal-8n --duration 6h --out out/tradeoff-diurnal-8n.json',
    )
    .action(async (f: TradeoffFlags) => {
      if (!(FIXED_KEEP_ALIVE_BASELINES as readonly string[]).includes(f.baseline))
        throw new InputError([`--baseline: '${f.baseline}' is not one of ${FIXED_KEEP_ALIVE_BASELINES.join(', ')}`], 2);
      if (f.out) assertOutputFile('--out', f.out, f.force === true, 2);
      const covers = numbers('--covers', f.covers, Number, (x) => x >= 0.5 && x < 1, 'a fraction in [0.5, 1)');
      const keepAlives_s = numbers(
        '--keepalives',
        f.keepalives,
        parseDuration_s,
        (x) => x >= 0,
        'a duration such as 90s, 10m or 1h',
      );
      const inputs = prepare({
        scenario: f.scenario,
        ...(f.duration !== undefined ? { duration: f.duration } : {}),
        ...(f.seed !== undefined ? { seed: f.seed } : {}),
        ...(f.config !== undefined ? { config: f.config } : {}),
      });
      let bar: ReturnType<typeof progressBar> | undefined;
      const r = await runTradeoff(inputs, {
        covers,
        keepAlives_s,
        baseline: f.baseline as BaselineName,
        onRun: (label, i, total) => {
          bar?.done();
          bar = progressBar(`${inputs.scenario.name} · ${label} (${i + 1}/${total})`);
        },
        progress: (x) => bar?.update(x),
      });
      bar?.done();
      if (f.out) writeFileAtomic(f.out, `${JSON.stringify(r, null, 2)}\n`);
      if (f.json) console.log(JSON.stringify(r));
      else console.log(`${formatTradeoff(r)}${f.out ? `\n\nwritten: ${f.out}` : ''}`);
    });
}
