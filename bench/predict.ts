/**
 * The demand predictor's inference latency: one `forecast()` of the ONNX predictor for a batch of
 * ten profiles (their features, then one onnxruntime run), as a shell calls it once per scaling
 * cycle; and the onnxruntime run alone. Target: ≤ 100 µs per batch. A benchmark, not a test: it
 * prints what it measures and fails nothing.
 *
 *   node --import tsx bench/predict.ts [--json] [--quick] [--model FILE]
 *
 * prints one line, or with --json one object `{"predict":{"batch_us":{"p50":…,"p99":…},"run_us":{…},…}}`.
 * Histories come from the bundled demand traces (each profile at a different series and time).
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadTrace } from '../predict/input.ts';
import { measureLatency } from '../predict/latency.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const root = new URL('../', import.meta.url).pathname;
const modelArg = args.indexOf('--model');
const model = modelArg >= 0 ? (args[modelArg + 1] as string) : `${root}models/demand.onnx`;

if (!existsSync(model)) {
  console.error(`bench/predict.ts: no model at ${model} (make one with fgo train, models/README.md)`);
  if (json) console.log(JSON.stringify({ predict: null }));
  process.exit(0);
}
const traces = [
  'nyc_taxi',
  'Twitter_volume_AAPL',
  'azure-functions-2019',
  'alibaba-m1932-m1933',
  'elb_request_count_8c0756',
].map((n) => loadTrace(`${root}traces/demand/${n}.csv`));
const runs = quick ? 2_000 : 20_000;
const r = await measureLatency(readFileSync(model), traces, runs, quick ? 500 : 2_000);
if (json)
  console.log(
    JSON.stringify({
      predict: { batch_us: r.batch_us, run_us: r.run_us, batch_profiles: r.batch_profiles, runs: r.runs },
    }),
  );
else
  console.log(
    `predict: ${r.batch_profiles}-profile batch p50 ${r.batch_us.p50} µs, p99 ${r.batch_us.p99} µs (onnxruntime run alone p50 ${r.run_us.p50} µs, p99 ${r.run_us.p99} µs; ${r.runs} runs; target ≤ 100 µs)`,
  );
