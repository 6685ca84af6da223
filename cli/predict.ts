/**
 * The demand predictor's commands (issue [4/5]): `fgo dataset` (features and labels as CSV),
 * `fgo train` (a model for all traces, exported to ONNX with its card) and `fgo predict-eval`
 * (a model judged on any trace's second half). Bad files are InputErrors (exit 1, file:line:col);
 * bad options are usage errors (exit 2).
 */
import { existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration_s } from '../sim/scenario.ts';
import { datasetCsv } from '../predict/dataset.ts';
import { evaluateModelFile } from '../predict/evaluate.ts';
import { FEATURE_SETS } from '../predict/features.ts';
import { writeFileAtomic } from '../formats/files.ts';
import { assertOutputFile } from '../formats/outputs.ts';
import { loadTrace } from '../predict/input.ts';
import { measureLatency } from '../predict/latency.ts';
import { trainDemandModel, type ModelKind } from '../predict/train.ts';
import { InputError } from './jsonfile.ts';

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
  if (v.trim() === '' || !(x > 0 && x < 1)) throw new InvalidArgumentError('must be a number between 0 and 1 (exclusive)');
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
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
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
/** JSON with Infinity spelled out (a ratio to a baseline that is exact on a trace) instead of null. */
const cardJson = (card: unknown, indent?: number) => JSON.stringify(card, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), indent);

interface TrainCli {
  traces: string[];
  unseen?: string[];
  horizon?: { s: number; text: string };
  seed: string;
  model: ModelKind | 'auto';
  features: string;
  trees?: number;
  out: string;
  force?: boolean;
  bench: boolean;
  json?: boolean;
}

export function registerPredictCommands(program: Command): void {
  program
    .command('dataset')
    .description('write the demand predictor\'s examples as CSV: per profile and interval, features (lags, rolling means, EWMA, seasonal and time encodings, optional PSI) and labels (arrivals over the horizon; smallest warm pool keeping cold starts under a target)')
    .requiredOption('--traces <files...>', 'demand traces (t_s,profile,count) or NAB timestamp,value files')
    .option('--horizon <duration>', 'label horizon, e.g. 5m (default: one interval of each trace)', duration)
    .option('--psi <file>', 'a PSI trace: adds the latest system-wide avg10 values (as fractions) at each interval')
    .option('--service-ms <spec>', 'service time for the warm-pool label: MS, or PROFILE=MS,…,MS', serviceSpec)
    .option('--cold-target <fraction>', 'largest share of cold starts the warm-pool label allows', fraction, 0.05)
    .requiredOption('--out <file>', 'the CSV to write (atomically: a temporary file beside it, renamed into place)')
    .option('--force', 'replace --out if it exists (fgo never replaces a file it cannot prove it wrote)')
    .addHelpText('after', '\nExample:\n  $ fgo dataset --traces traces/demand/nyc_taxi.csv --horizon 30m --out /tmp/taxi.csv\n  wrote /tmp/taxi.csv: 10319 rows, 45 columns')
    .action((o: { traces: string[]; horizon?: number; psi?: string; serviceMs?: { byProfile: Map<string, number>; fallback: number }; coldTarget: number; out: string; force?: boolean }) => {
      assertOutputFile('--out', o.out, o.force === true);
      requireFiles([...o.traces, ...(o.psi ? [o.psi] : [])]);
      const traces = o.traces.map(loadTrace);
      const { text, rows } = datasetCsv(traces, {
        ...(o.horizon !== undefined ? { horizon_s: o.horizon } : {}),
        ...(o.psi ? { psi: o.psi } : {}),
        service_ms: o.serviceMs?.byProfile ?? new Map(),
        default_service_ms: o.serviceMs?.fallback ?? 100,
        cold_target: o.coldTarget,
      });
      writeFileAtomic(o.out, text);
      console.log(`wrote ${o.out}: ${rows} rows, ${text.slice(0, text.indexOf('\n')).split(',').length} columns`);
    });

  program
    .command('train')
    .description('train the demand model on the first half of every series of the traces, judge it on the second half beside last-value, seasonal-naive and EWMA, and write it as ONNX with its model card (FILE.card.json)')
    .requiredOption('--traces <files...>', 'demand traces (t_s,profile,count) or NAB timestamp,value files')
    .option('--unseen <files...>', 'traces never trained on, judged as predict-eval does; their figures go in the card')
    .option('--horizon <duration>', 'forecast horizon, e.g. 5m (default: one interval of each trace)', durationText)
    .option('--seed <seed>', 'seed of the row/feature sampling and MLP initialisation', 'fgo')
    .addOption(new Option('--model <kind>', 'gbt, mlp, or auto: train both, keep the better on held-out data').choices(['auto', 'gbt', 'mlp']).default('auto'))
    .addOption(new Option('--features <set>', 'feature set').choices(Object.keys(FEATURE_SETS)).default('no_clock'))
    .option('--trees <n>', 'number of trees (default 300)', positiveInt)
    .option('--no-bench', 'leave the wall-clock inference latency out of the card')
    .option('--json', 'print the card instead of a summary')
    .requiredOption('--out <file>', 'the ONNX file to write, e.g. models/demand.onnx')
    .option('--force', 'replace --out and its card if they exist')
    .addHelpText('after', '\nReproduce the committed model (models/README.md):\n  $ fgo train --traces traces/demand/*.csv --unseen test/fixtures/nab-unseen/*.csv --seed fgo --out models/demand.onnx')
    .action(async (o: TrainCli) => {
      assertOutputFile('--out', o.out, o.force === true);
      assertOutputFile('--out (its card)', cardPath(o.out), o.force === true);
      requireFiles([...o.traces, ...(o.unseen ?? [])]);
      const traces = o.traces.map(loadTrace);
      const unseen = (o.unseen ?? []).map(loadTrace);
      const started = process.hrtime.bigint();
      const { onnx, card } = trainDemandModel(traces, {
        ...(o.horizon !== undefined ? { horizon_s: o.horizon.s, horizon_label: o.horizon.text } : {}),
        seed: o.seed,
        kind: o.model,
        feature_set: o.features as keyof typeof FEATURE_SETS,
        ...(o.trees !== undefined ? { gbt: { trees: o.trees } } : {}),
      }, unseen);
      const train_s = Number(process.hrtime.bigint() - started) / 1e9;
      if (o.bench) card.inference = { ...(await measureLatency(onnx, traces)), training_wall_s: Math.round(train_s * 10) / 10 };
      writeFileAtomic(o.out, onnx);
      writeFileAtomic(cardPath(o.out), `${cardJson(card, 2)}\n`);
      if (o.json) return console.log(cardJson(card));
      const s = card.summary as { mean_wape_vs_best_baseline: number; traces_no_worse_than_best_baseline: number; traces: number };
      console.log(`wrote ${o.out} (${onnx.length} bytes, ${card.kind}) and ${cardPath(o.out)}: held-out WAPE ${s.mean_wape_vs_best_baseline} × the best baseline's on average, no worse on ${s.traces_no_worse_than_best_baseline} of ${s.traces} traces`);
    });

  program
    .command('predict-eval')
    .description('judge a trained demand model on the second half of a demand trace or NAB file (imported on the fly), as it was trained; prints one JSON object with its accuracy (1 − WAPE) beside last-value, seasonal-naive and EWMA')
    .requiredOption('--model <file>', 'an ONNX model written by fgo train')
    .requiredOption('--trace <file>', 'a demand trace (t_s,profile,count) or NAB timestamp,value file')
    .option('--horizon <duration>', 'horizon, e.g. 5m (default: one interval of the trace)', durationText)
    .addHelpText('after', '\nExample:\n  $ fgo predict-eval --model models/demand.onnx --trace test/fixtures/nab-unseen/Twitter_volume_AMZN.csv\n  {"accuracy":…,"wape":…,"baselines":{"last_value":{…},"seasonal_naive":{…},"ewma":{…}},…}')
    .action(async (o: { model: string; trace: string; horizon?: { s: number; text: string } }) => {
      requireFiles([o.model, o.trace]);
      const trace = loadTrace(o.trace);
      try {
        console.log(JSON.stringify(await evaluateModelFile(o.model, trace, o.horizon?.s, o.horizon?.text ?? '1 interval')));
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError([`${o.model}: ${(e as Error).message}`]);
      }
    });
}
