/**
 * `fgo report`: one self-contained HTML report of one or more run directories (reports/report.ts),
 * optionally with every chart as SVG and PNG. Unusable run directories exit 1 with every problem
 * named, as the other commands do for invalid input.
 */
import type { Command } from 'commander';
import { assertOutputFile, outputDirProblem } from '../formats/outputs.ts';
import { InputError } from '../formats/errors.ts';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      "write one self-contained HTML report (opens offline) of run directories: the verdict where an engine run and a baseline share scenario, seed, duration and topology (a --vary compare: each variant's, and the deltas between them), then latency CDFs, PSI, CPU heat map, locality, pools, decisions and faults, every figure side by side",
    )
    .argument('<run_dir...>', 'run directories (from fgo sim), or a directory of them (from fgo compare)')
    .requiredOption('--out <file.html>', 'the HTML file to write')
    .option('--images <dir>', 'also render every chart to DIR/ID.svg and DIR/ID.png, headless')
    .option('--title <text>', "the report's title (default: the scenarios and runs)")
    .option('--force', 'replace --out (and --images) even if they exist and were not written by fgo')
    .option('--json', 'print {"path","bytes","charts","seconds"} instead of a line of text')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo report out/sim/faults-8n-engine --out faults.html --images faults-img\n  $ fgo report out/compare/default --out default.html     # every run of a compare',
    )
    .action(
      async (dirs: string[], o: { out: string; images?: string; title?: string; json?: boolean; force?: boolean }) => {
        assertOutputFile('--out', o.out, o.force === true);
        const images = o.images === undefined ? undefined : outputDirProblem('--images', o.images, o.force === true);
        if (images) throw new InputError([images]);
        const t0 = performance.now();
        // Loaded on use: vega, vega-lite and resvg would add about a second to every fgo command's start.
        const { writeReport } = await import('../reports/report.ts');
        // An unusable run directory is an InputError listing each file's problem (exit 1).
        const r = await writeReport(dirs, o.out, {
          ...(o.images ? { images: o.images } : {}),
          ...(o.title ? { title: o.title } : {}),
        });
        const seconds = Math.round((performance.now() - t0) / 10) / 100;
        const { verdicts, ...written } = r;
        if (o.json) console.log(JSON.stringify({ ...written, seconds, ...(o.images ? { images: o.images } : {}) }));
        // The verdict the report leads with, where the runs allow one (reports/study.ts).
        else
          console.log(
            `${verdicts.map((v) => `verdict, ${v.scenario}: ${v.summary}\n`).join('')}${r.path}: ${r.charts} charts, ${(r.bytes / 1e6).toFixed(2)} MB, ${seconds} s${o.images ? `; images in ${o.images}` : ''}`,
          );
      },
    );
}
