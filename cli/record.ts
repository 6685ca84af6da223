/**
 * `fgo record`: sample this host's PSI, CPU time and available memory every interval for a while
 * and write a PSI trace (docs/formats.md) the twin replays — see live/recorder.ts for the format. Rows are
 * appended and flushed as they are taken; Ctrl-C (SIGINT) or SIGTERM ends the recording cleanly,
 * every row taken so far kept, and the summary still printed.
 *
 * The action checks its inputs synchronously (bad durations and a kernel without PSI are
 * InputErrors, exit 1, printed by cli/main.ts), then records asynchronously; since main.ts calls
 * the synchronous `program.parse`, errors during the recording are reported here, alike.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  assertPsiAvailable,
  checkRecordTimes,
  MIN_INTERVAL_S,
  recordPsiTrace,
  type RecordSummary,
} from '../live/recorder.ts';
import { HostFileError } from '../live/procread.ts';
import { resolveRoots, type HostRoots, type RootOptions } from '../formats/host/roots.ts';
import { outputFileProblem } from '../formats/outputs.ts';
import { parseDuration_s } from '../formats/duration.ts';
import { InputError } from '../formats/errors.ts';
import { reportUnexpected } from './fail.ts';
import { addRootOptions } from './host-roots.ts';
import { roundTo } from '../engine/round.ts';

interface RecordCliOptions extends RootOptions {
  duration: string;
  interval: string;
  out: string;
  json?: boolean;
  force?: boolean;
}

function duration(name: string, v: string): number {
  try {
    return parseDuration_s(v);
  } catch (e) {
    throw new InputError([`--${name}: ${(e as Error).message}`]);
  }
}

const seconds = (s: number) => (s < 120 ? `${roundTo(s, 2)} s` : `${Math.round(s / 6) / 10} min`);

export function summaryText(s: RecordSummary): string {
  const how = s.stopped === 'signal' ? ', stopped early by a signal' : '';
  const missed = s.missed
    ? `, ${s.missed} sample slot${s.missed === 1 ? '' : 's'} missed (host or process stalled)`
    : '';
  return `recorded ${s.rows} row${s.rows === 1 ? '' : 's'} over ${seconds(s.duration_s)} (every ${Math.round(s.interval_s * 1000)} ms${how}${missed}) to ${s.file}`;
}

/** Print an error of the asynchronous part as main.ts prints those of the synchronous part. */
function reportFailure(e: unknown, json: boolean): void {
  const problems = e instanceof InputError ? e.problems : e instanceof HostFileError ? [e.message] : undefined;
  if (!problems) return reportUnexpected(e);
  if (json) console.log(JSON.stringify({ ok: false, problems }));
  else for (const p of problems) console.error(p);
  process.exitCode = e instanceof InputError ? e.exitCode : 1;
}

export function registerRecordCommand(program: Command): void {
  const cmd = program
    .command('record')
    .description(
      "record this host's pressure (PSI), CPU time and available memory every interval into a PSI trace CSV " +
        '(t_ms, the 24 PSI columns, cpu_busy_jiffies,cpu_total_jiffies,mem_available_kb,procs_running,procs_blocked) for the twin to replay (--psi shows it to the policy, --background runs it as a neighbour); ' +
        'rows are flushed as taken, Ctrl-C stops early and keeps them',
    )
    .requiredOption('--duration <d>', 'how long to record, e.g. 30s, 5m, 2h (samples at 0, I, 2I, … up to D)')
    .option('--interval <i>', `time between samples, at least ${MIN_INTERVAL_S * 1000}ms`, '1s')
    .requiredOption('--out <file>', 'the trace to write (written directly, header first, so a crash keeps every row)');
  addRootOptions(cmd, {
    cgroupRoot: 'mount point of the cpuset cgroup hierarchy (unused by record; accepted like every live command)',
  })
    .option('--force', 'replace --out if it exists (fgo never replaces a file it cannot prove it wrote)')
    .option(
      '--json',
      'print one JSON object on stdout at the end: {"ok":true,"file","rows","duration_s","interval_s","stopped","missed"}',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo record --duration 5m --out traces/host.csv\n  $ fgo record --duration 30s --interval 250ms --out /tmp/burst.csv --json\n  $ fgo trace check traces/host.csv',
    )
    .action((o: RecordCliOptions) => {
      const json = o.json === true;
      let duration_s: number, interval_s: number, roots: HostRoots;
      try {
        duration_s = duration('duration', o.duration);
        interval_s = duration('interval', o.interval);
        checkRecordTimes(duration_s, interval_s);
        const taken = outputFileProblem('--out', o.out, o.force === true);
        if (taken) throw new InputError([taken]);
        roots = resolveRoots(o);
        assertPsiAvailable(roots); // a kernel without PSI: InputError, exit 1, before any file is made
      } catch (e) {
        if (json && e instanceof InputError) return reportFailure(e, true);
        throw e; // main.ts prints it
      }
      const out = resolve(o.out);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const tty = process.stderr.isTTY === true;
      const total = Math.floor(duration_s / interval_s + 1e-6) + 1;
      const progress = ({ index, t_ms, cells }: { index: number; t_ms: number; cells: readonly string[] }) => {
        if (!tty) return;
        // cells[0] is cpu_some_avg10, cells[8] mem_some_avg10, cells[16] io_some_avg10 (PSI_COLUMNS order).
        process.stderr.write(
          `\r\x1b[K${index + 1}/${total} rows, t ${(t_ms / 1000).toFixed(1)} s — some avg10: cpu ${cells[0]} %, mem ${cells[8]} %, io ${cells[16]} % (Ctrl-C stops)`,
        );
      };
      const done = () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        if (tty) process.stderr.write('\r\x1b[K');
      };
      recordPsiTrace({
        roots,
        out,
        replace: o.force === true,
        duration_s,
        interval_s,
        signal: stop.signal,
        onRow: progress,
      }).then(
        (s) => {
          done();
          console.log(json ? JSON.stringify({ ok: true, ...s }) : summaryText(s));
        },
        (e: unknown) => {
          done();
          reportFailure(e, json);
        },
      );
    });
}
