/**
 * `fgo replay`: stream a live journal through a fresh engine and report every decision that
 * differs, every damaged line, and everything it could not check.
 */
import type { Command } from 'commander';
import { scanJournal, type ScanResult } from '../live/journal-read.ts';
import { Replayer, type ReplayReport } from '../live/replay.ts';
import { InputError } from '../formats/errors.ts';

/** Exit status when everything checked replays identically but some entries could not be checked. */
export const EXIT_UNCHECKED = 3;
/** Lines of each list printed without --json. */
const SHOWN = 20;

function exitStatus(r: ReplayReport): number {
  if (r.problems.length || r.differences.length) return 1;
  return r.unchecked.length || r.calls === 0 ? EXIT_UNCHECKED : 0;
}

function printList(title: string, items: readonly string[]): void {
  if (!items.length) return;
  console.error(`${title}:`);
  for (const p of items.slice(0, SHOWN)) console.error(`  ${p}`);
  if (items.length > SHOWN) console.error(`  … and ${items.length - SHOWN} more (--json lists them all)`);
}

function summary(segments: number, r: ReplayReport, code: number): string {
  const checked = `${segments} segment(s), ${r.epochs} epoch(s): ${r.calls} engine calls (${r.decisions} decisions) re-run`;
  if (r.calls === 0)
    return `${segments} segment(s), ${r.epochs} epoch(s): no engine call could be checked — nothing was compared`;
  const outcome = `${r.differences.length} difference(s)`;
  if (code === 0) return `${checked}: ${outcome}; every entry checked`;
  if (code === EXIT_UNCHECKED) return `${checked}: ${outcome} among them, but not everything could be checked (above)`;
  return `${checked}: ${outcome}; ${r.problems.length} problem(s)`;
}

export interface JournalCheck {
  scan: ScanResult;
  report: ReplayReport;
  /** The exit status (0, 1 or EXIT_UNCHECKED). */
  status: number;
}

/** Stream a journal through the replay; damage found while reading is among `report.problems`. */
export function checkJournal(path: string): JournalCheck {
  const replayer = new Replayer();
  let scan: ScanResult;
  try {
    scan = scanJournal(path, {
      entry: (e, where) => replayer.feed(e, where),
      damage: (where) => replayer.damage(where),
    });
  } catch (e) {
    throw new InputError([(e as Error).message]);
  }
  const report = replayer.finish();
  report.problems.unshift(...scan.errors);
  if (scan.segments.length === 0) report.unchecked.push(`no journal segments in ${path}`);
  return { scan, report, status: exitStatus(report) };
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      "re-run the engine on a live journal's observations and report every decision that differs (there should be none)",
    )
    .argument('<journal>', 'journal directory (STATE_DIR/journal) or one segment file')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      [
        '',
        'Exit status:',
        '  0  every entry was checked, at least one engine call was re-run, and all replay identically',
        '  1  a decision differs, or the journal is damaged or holds nonsense (each bad line named file:line)',
        `  ${EXIT_UNCHECKED}  what was checked replays identically, but some entries could not be checked: their`,
        "     epoch's start was in a segment retention removed, entries were dropped on a full disk,",
        '     or there was no engine call at all',
        'A torn last line (a crash mid-write) is noted and skipped; it does not change the status.',
        '',
        'Example:',
        '  $ fgo replay /var/lib/fgo/journal',
      ].join('\n'),
    )
    .action((path: string, o: { json?: boolean }) => {
      const { scan, report: r, status: code } = checkJournal(path);
      if (o.json) {
        console.log(
          JSON.stringify({
            segments: scan.segments.length,
            epochs: r.epochs,
            calls: r.calls,
            decisions: r.decisions,
            differences: r.differences,
            problems: r.problems,
            unchecked: r.unchecked,
            notes: scan.notes,
            status: code,
          }),
        );
      } else {
        printList('notes', scan.notes);
        printList('problems', r.problems);
        printList('not checked', r.unchecked);
        for (const d of r.differences.slice(0, SHOWN))
          console.log(
            `${d.where}: epoch ${d.epoch} call ${d.call} (${d.op}) differs:\n  journal: ${d.expected.slice(0, 400)}\n  replay:  ${d.got.slice(0, 400)}`,
          );
        console.log(summary(scan.segments.length, r, code));
      }
      process.exitCode = code;
    });
}
