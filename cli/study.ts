/**
 * `fgo study NOTEBOOK`: run a what-if notebook (notebooks/*.ts, or any module of the user's that
 * exports `default async function study(ctx)`), write OUT/summary.json and print the report path.
 * Exit 2 when the notebook file does not exist, 1 when it is not a notebook (cannot be imported,
 * no default function, or a result without a report).
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { writeFileAtomic } from '../formats/files.ts';
import { markerText, OUTPUT_MARKER, outputDirProblem } from '../formats/outputs.ts';
import type { Study, StudyResult } from '../sim/study.ts';
import { InputError } from '../formats/errors.ts';
import { workersFlag } from './run-flags.ts';

const NOTEBOOKS = resolve(new URL('../notebooks/', import.meta.url).pathname);

/**
 * The notebook's file: the path as given when it exists; a bare name (`warm-memory`) is looked
 * up in notebooks/. Anything else is a usage error (exit 2).
 */
export function resolveNotebook(arg: string): string {
  const direct = resolve(arg);
  if (existsSync(direct)) {
    if (!statSync(direct).isFile())
      throw new InputError([`${arg}: not a file (give a notebook, e.g. notebooks/warm-memory.ts)`], 2);
    return direct;
  }
  if (!arg.includes('/') && !arg.includes('\\')) {
    const named = join(NOTEBOOKS, extname(arg) ? arg : `${arg}.ts`);
    if (existsSync(named) && statSync(named).isFile()) return named;
  }
  const inside = !relative(NOTEBOOKS, direct).startsWith('..');
  throw new InputError(
    [
      `${arg}: no such notebook${inside ? '' : ' (a notebook outside notebooks/ must be given as a path that exists)'}; bundled: notebooks/warm-memory.ts, notebooks/psi-thresholds.ts, notebooks/numa-scaling.ts`,
    ],
    2,
  );
}

export function registerStudy(program: Command): void {
  program
    .command('study')
    .description(
      'run a what-if notebook (a module exporting `default async function study({out, quick, log, workers})`): its simulations, its report, OUT/summary.json',
    )
    .argument('<notebook>', 'notebooks/NAME.ts (or just NAME), or a path to your own notebook module')
    .option('--out <dir>', 'output directory (default out/study/NAME)')
    .option('--quick', 'a small, fast version: a few simulated minutes, fewer points')
    .option(
      '--workers <k>',
      "worker threads for the notebook's runs (default: the CPUs available; 0: run in this thread); results are the same for any number",
    )
    .option('--force', 'use --out even if it exists and was not written by fgo')
    .option('--json', 'print the summary.json document instead of the log and the report path')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo study notebooks/warm-memory.ts --quick\n  $ fgo study notebooks/numa-scaling.ts --out out/study/numa\n  $ fgo report out/study/numa/runs --out /tmp/r.html --images out/study/numa/img',
    )
    .action(
      async (arg: string, o: { out?: string; quick?: boolean; json?: boolean; force?: boolean; workers?: string }) => {
        const file = resolveNotebook(arg);
        const workers = workersFlag(o.workers);
        const name = basename(file).replace(/\.[cm]?[tj]s$/, '');
        let mod: { default?: unknown };
        try {
          mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
        } catch (e) {
          const msg = (e as Error).message.split('\n')[0] ?? '';
          // tsx loads a .ts file as CommonJS outside a "type": "module" package; .mts is always ESM.
          const hint =
            /require\(\) ES Module|ERR_REQUIRE_ESM/.test(msg) && file.endsWith('.ts')
              ? ' (outside a "type": "module" package, name an ES-module notebook .mts)'
              : '';
          throw new InputError([`${arg}: cannot import the notebook: ${msg}${hint}`], 1);
        }
        if (typeof mod.default !== 'function')
          throw new InputError(
            [`${arg}: not a notebook: it must export \`default async function study(ctx: { out, quick, log })\``],
            1,
          );
        const out = o.out ?? join('out', 'study', name);
        const taken = outputDirProblem('--out', out, o.force === true);
        if (taken) throw new InputError([taken], 2);
        // The notebook writes into it as it goes: marked as fgo's from the start.
        mkdirSync(out, { recursive: true });
        writeFileSync(join(out, OUTPUT_MARKER), markerText('study'));
        const log = o.json ? (s: string) => process.stderr.write(`${s}\n`) : (s: string) => console.log(s);
        const t0 = performance.now();
        const res = (await (mod.default as Study)({
          out,
          quick: o.quick === true,
          log,
          workers,
        })) as Partial<StudyResult> | undefined;
        if (!res || typeof res.report !== 'string' || !existsSync(res.report))
          throw new InputError(
            [
              `${arg}: the notebook must resolve to { report, summary } with report the path of a file it wrote (got ${JSON.stringify(res?.report)})`,
            ],
            1,
          );
        const doc = {
          notebook: relative(process.cwd(), file) || file,
          quick: o.quick === true,
          report: res.report,
          wall_s: Math.round((performance.now() - t0) / 100) / 10,
          summary: res.summary ?? null,
        };
        const summaryPath = join(out, 'summary.json');
        writeFileAtomic(summaryPath, `${JSON.stringify(doc, null, 2)}\n`);
        if (o.json) console.log(JSON.stringify({ ...doc, summary_path: summaryPath }));
        else
          console.log(`\nsummary: ${summaryPath}\nreport: ${res.report} (open it in a browser; it needs no network)`);
      },
    );
}
