/**
 * The demand predictor's commands (issue [4/5]): `fgo dataset` (features and labels as CSV),
 * `fgo train` (a model for all traces, exported to ONNX with its card) and `fgo predict-eval`
 * (a model judged on any trace's second half). Bad files are InputErrors (exit 1, file:line:col);
 * bad options are usage errors (exit 2).
 */
import { roundTo } from '../engine/round.ts';
import { existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration_s } from '../formats/duration.ts';
import { datasetCsv } from '../predict/dataset.ts';
import { evaluateModelFile } from '../predict/evaluate.ts';
import { FEATURE_SETS } from '../predict/features.ts';
import { writeFileAtomic } from '../formats/files.ts';
import { assertOutputFile } from '../formats/outputs.ts';
import { loadTrace } from '../predict/input.ts';
import { measureLatency } from '../predict/latency.ts';
import { crossValidate, cvTable, DEFAULT_FOLDS } from '../predict/cv.ts';
import { modelToOnnx } from '../predict/onnx.ts';
import { trainDemandModel } from '../predict/train.ts';
import { InputError } from '../formats/errors.ts';
import { removedFlag, takesList, takesOne, TRACE_FLAGS } from './flag-aliases.ts';

/** A duration as sim/scenario.ts reads it (90s, 5m, 1h, or seconds), > 0. */
function duration(v: string): number {
  let s: number;
  try {
    s = parseDuration_s(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  if (!(s > 0)) throw new InvalidArgumentError('must be longer than 0');
  return s;
}

/** The same, keeping the text for the card ("5m"). */
function durationText(v: string): { s: number; text: string } {
  return { s: duration(v), text: v };
}

function fraction(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !(x > 0 && x < 1))
    throw new InvalidArgumentError('must be a number between 0 and 1 (exclusive)');
  return x;
}

function positiveInt(v: string): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1) throw new InvalidArgumentError('must be a positive integer');
  return x;
}

/** `--service-ms 100` or `--service-ms api=250,batch=2000,100` (a bare number is the default). */
function serviceSpec(v: string): { byProfile: Map<string, number>; fallback: number } {
  const byProfile = new Map<string, number>();
  let fallback = 100;
  for (const part of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(?:([^=]+)=)?(\d+(?:\.\d+)?)$/.exec(part);
    if (!m || !(Number(m[2]) > 0)) throw new InvalidArgumentError(`"${part}" is not MS or PROFILE=MS with MS > 0`);
    if (m[1] === undefined) fallback = Number(m[2]);
    else byProfile.set(m[1], Number(m[2]));
  }
  return { byProfile, fallback };
}

function requireFiles(files: readonly string[]): void {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new InputError(missing.map((f) => `${f}: no such file`));
}

const cardPath = (out: string) => `${out.replace(/\.onnx$/i, '')}.card.json`;
/** The card's cross-validation block: every candidate's summary, the chosen one's results per series. */
function cvCard(cv: ReturnType<typeof crossValidate>) {
  const chosen = cv.candidates[cv.chosen];
  return {
    method: `grouped by series: each trace one group, dealt to ${cv.folds} folds in name order; each fold trained on the first halves of the other folds' traces, judged on the second halves of its own`,
    rule: "the candidate with the lowest mean over series of (WAPE ÷ the series' best single baseline WAPE)",
    folds: cv.folds,
    assignment: cv.assignment,
    candidates: cv.candidates.map((c) => ({ params: c.params, summary: c.summary })),
    chosen: cv.chosen,
    results: Object.fromEntries((chosen?.results ?? []).map((r) => [r.trace, r])),
  };
}

/** JSON with Infinity spelled out (a ratio to a baseline that is exact on a trace) instead of null. */
const cardJson = (card: unknown, indent?: number) =>
  JSON.stringify(card, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), indent);

interface TrainCli {
  traces: string[];
  horizon?: { s: number; text: string };
  seed: string;
  features: string;
  trees?: number;
  cv?: number | true;
  skipBad?: boolean;
  out: string;
  force?: boolean;
  bench: boolean;
  json?: boolean;
}

/** `fgo dataset`: the predictor's examples (features and labels) as CSV. */
function registerDataset(program: Command): void {
  takesList(program.command('dataset'), TRACE_FLAGS)
    .description(
      "write the demand predictor's examples as CSV: per profile and interval, features (lags, rolling means, EWMA, seasonal and time encodings, optional PSI) and labels (arrivals over the horizon; smallest warm pool keeping cold starts under a target)",
    )
    .requiredOption('--traces <files...>', 'demand traces (t_s,profile,count) or NAB timestamp,value files')
    .option('--horizon <duration>', 'label horizon, e.g. 5m (default: one interval of each trace)', duration)
    .option('--psi <file>', 'a PSI trace: adds the latest system-wide avg10 values (as fractions) at each interval')
    .option('--service-ms <spec>', 'service time for the warm-pool label: MS, or PROFILE=MS,…,MS', serviceSpec)
    .option('--cold-target <fraction>', 'largest share of cold starts the warm-pool label allows', fraction, 0.05)
    .requiredOption('--out <file>', 'the CSV to write (atomically: a temporary file beside it, renamed into place)')
    .option('--force', 'replace --out if it exists (fgo never replaces a file it cannot prove it wrote)')
    .option('--json', 'print {"out","rows","columns"} instead of a line')
    .addHelpText(
      'after',
      '\nExample:\n  $ fgo dataset --traces traces/demand/nyc_taxi.csv --horizon 30m --out /tmp/taxi.csv\n  wrote /tmp/taxi.csv: 10319 rows, 45 columns',
    )
    .action(
      (o: {
        traces: string[];
        horizon?: number;
        psi?: string;
        serviceMs?: { byProfile: Map<string, number>; fallback: number };
        coldTarget: number;
        out: string;
        force?: boolean;
        json?: boolean;
      }) => {
        assertOutputFile('--out', o.out, o.force === true);
        requireFiles([...o.traces, ...(o.psi ? [o.psi] : [])]);
        const traces = o.traces.map((f) => loadTrace(f));
        const { text, rows } = datasetCsv(traces, {
          ...(o.horizon !== undefined ? { horizon_s: o.horizon } : {}),
          ...(o.psi ? { psi: o.psi } : {}),
          service_ms: o.serviceMs?.byProfile ?? new Map(),
          default_service_ms: o.serviceMs?.fallback ?? 100,
          cold_target: o.coldTarget,
        });
        writeFileAtomic(o.out, text);
        const columns = text.slice(0, text.indexOf('\n')).split(',').length;
        console.log(
          o.json ? JSON.stringify({ out: o.out, rows, columns }) : `wrote ${o.out}: ${rows} rows, ${columns} columns`,
        );
      },
    );
}

/** `fgo train`'s action: the model trained (cross-validated with --cv), written as ONNX with its card. */
async function runTrain(o: TrainCli): Promise<void> {
  assertOutputFile('--out', o.out, o.force === true);
  assertOutputFile('--out (its card)', cardPath(o.out), o.force === true);
  requireFiles(o.traces);
  const traces = o.traces.map((f) => loadTrace(f, { skipBad: o.skipBad === true }));
  const started = process.hrtime.bigint();
  const elapsed_s = () => Number(process.hrtime.bigint() - started) / 1e9;
  const opts = {
    ...(o.horizon !== undefined ? { horizon_s: o.horizon.s, horizon_label: o.horizon.text } : {}),
    seed: o.seed,
    feature_set: o.features as keyof typeof FEATURE_SETS,
    ...(o.trees !== undefined ? { gbt: { trees: o.trees } } : {}),
  };
  const cv =
    o.cv === undefined
      ? undefined
      : crossValidate(traces, opts, o.cv === true ? DEFAULT_FOLDS : o.cv, undefined, (done, total) => {
          const t = elapsed_s();
          process.stderr.write(
            `cross-validation: ${done}/${total} folds, ${Math.round(t)} s, about ${Math.round((t / done) * (total - done))} s left\n`,
          );
        });
  const chosen = cv ? cv.candidates[cv.chosen]?.params : undefined;
  const { model, card } = trainDemandModel(traces, {
    ...opts,
    ...(chosen ? { gbt: { ...chosen, ...opts.gbt } } : {}),
  });
  if (cv) card.cross_validation = cvCard(cv);
  const onnx = modelToOnnx(model);
  card.onnx = {
    bytes: onnx.length,
    inputs: [
      'features [N, F]',
      'level [N, 1] (recent level × horizon intervals)',
      "anchor [N, 1] (the baselines' ensemble over the horizon)",
    ],
    outputs: ['arrivals [N, 1] (P50)', 'arrivals_p90 [N, 1] (P90, before the guard)'],
    opsets: { 'ai.onnx': 15, 'ai.onnx.ml': 3 },
  };
  card.skipped_rows = traces.reduce((a, t) => a + t.skipped, 0);
  card.training_wall_s = roundTo(elapsed_s(), 1);
  if (o.bench) card.inference = await measureLatency(onnx, traces);
  writeFileAtomic(o.out, onnx);
  writeFileAtomic(cardPath(o.out), `${cardJson(card, 2)}\n`);
  if (o.json) return console.log(cardJson(card));
  if (cv) console.log(cvTable(cv));
  console.log(
    `wrote ${o.out} (${onnx.length} bytes) and ${cardPath(o.out)} in ${card.training_wall_s} s${cv ? `; cross-validated: candidate ${cv.chosen + 1} of ${cv.candidates.length} chosen` : ''}`,
  );
}

/** `fgo train`. */
function registerTrain(program: Command): void {
  removedFlag(
    takesList(program.command('train'), TRACE_FLAGS),
    '--model <kind>',
    'train has no model kinds any more (it always writes the gradient-boosted trees); --model names an ONNX file in sim, compare and predict-eval, and train writes one with --out',
  )
    .description(
      "train the demand model (P50 and P90 gradient-boosted trees correcting the baselines' ensemble) on the first half of every series, optionally cross-validate it by series (--cv), and write it as ONNX with its model card (FILE.card.json)",
    )
    .requiredOption('--traces <files...>', 'demand traces (t_s,profile,count) or NAB timestamp,value files')
    .option('--horizon <duration>', 'forecast horizon, e.g. 5m (default: one interval of each trace)', durationText)
    .option('--seed <seed>', 'seed of the row and feature sampling', 'fgo')
    .addOption(new Option('--features <set>', 'feature set').choices(Object.keys(FEATURE_SETS)).default('no_clock'))
    .option('--trees <n>', 'number of trees of each quantile (default: the cross-validated choice)', positiveInt)
    .option(
      '--cv [folds]',
      `cross-validate grouped by series (each trace one group; default ${DEFAULT_FOLDS} folds, as many as traces = leave-one-series-out), choose the regularisation by it, and put the table in the card`,
      positiveInt,
    )
    .option(
      '--skip-bad',
      'leave out rows a reader rejects (e.g. a repeated timestamp) instead of failing; the card counts them',
    )
    .option('--no-bench', 'leave the wall-clock inference latency out of the card')
    .option('--json', 'print the card instead of a summary')
    .requiredOption('--out <file>', 'the ONNX file to write, e.g. models/demand.onnx')
    .option('--force', 'replace --out and its card if they exist')
    .addHelpText(
      'after',
      '\nReproduce the committed model and its cross-validation (models/README.md, about 10 minutes on 2 cores):\n  $ fgo train --traces traces/nab/*.csv traces/demand/azure-functions-2019.csv traces/demand/alibaba-m1932-m1933.csv \\\n      --horizon 5m --skip-bad --cv --out models/demand.onnx --force',
    )
    .action(runTrain);
}

/** `fgo predict-eval`: a trained model judged on a trace's second half, beside the baselines. */
function registerPredictEval(program: Command): void {
  takesOne(program.command('predict-eval'), TRACE_FLAGS, 'run it once per trace')
    .description(
      'judge a trained demand model on the second half of a demand trace or NAB file (imported on the fly), through onnxruntime and the online guard as a shell runs it; prints one JSON object: accuracy (1 − WAPE), WAPE, MAPE, coverage_p90 and pinball_p90, beside last value, seasonal-naive (day, week), EWMA and their ensemble, and which forecaster the guard used how often',
    )
    .requiredOption('--model <file>', 'an ONNX model written by fgo train')
    .requiredOption('--trace <file>', 'a demand trace (t_s,profile,count) or NAB timestamp,value file')
    .option('--horizon <duration>', 'horizon, e.g. 5m (default: one interval of the trace)', durationText)
    .option('--skip-bad', 'leave out rows a reader rejects instead of failing')
    .option('--json', 'accepted for scripts that pass it to every command: the output is always one JSON object')
    .addHelpText(
      'after',
      '\nExample:\n  $ fgo predict-eval --model models/demand.onnx --trace traces/nab/Twitter_volume_AMZN.csv --horizon 5m\n  {"accuracy":…,"wape":…,"coverage_p90":…,"pinball_p90":…,"baselines":{"last_value":{…},"seasonal_day":{…},"seasonal_week":{…},"ewma":{…},"ensemble":{…}},"sources":{"model":…},…}',
    )
    .action(async (o: { model: string; trace: string; horizon?: { s: number; text: string }; skipBad?: boolean }) => {
      requireFiles([o.model, o.trace]);
      const trace = loadTrace(o.trace, { skipBad: o.skipBad === true });
      try {
        console.log(
          JSON.stringify(await evaluateModelFile(o.model, trace, o.horizon?.s, o.horizon?.text ?? '1 interval')),
        );
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError([`${o.model}: ${(e as Error).message}`]);
      }
    });
}

export function registerPredictCommands(program: Command): void {
  registerDataset(program);
  registerTrain(program);
  registerPredictEval(program);
}
