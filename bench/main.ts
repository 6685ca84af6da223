/**
 * `npm run bench`: the engine's decision latency (bench/decision.ts), the twin's speed
 * (bench/sim.ts), `fgo compare` on one worker and on two (bench/compare.ts), the demand
 * predictor's batch latency (bench/predict.ts) and the live agent's overhead, placement time and
 * trigger reaction (bench/agent.ts, root only), each in its own process so one's heap and RSS do
 * not colour the others'.
 * `npm run bench -- --json` prints one JSON object (docs/formats.md "Benchmark output"):
 * `{"decision_latency_us":{…},"alloc_bytes_per_decision":{…},"sim":{"events_per_s":…,…}}`.
 * `--quick` skips the 24-hour scale-64n run.
 */
import { spawnSync } from 'node:child_process';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const here = new URL('./', import.meta.url).pathname;
const run = (file: string, flags: string[]) => {
  const args = [
    ...flags,
    '--import',
    'tsx',
    `${here}${file}`,
    ...(json ? ['--json'] : []),
    ...(quick ? ['--quick'] : []),
  ];
  const r = spawnSync(process.execPath, args, {
    stdio: json ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${file} failed with status ${r.status}`);
  return json ? (JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>) : {};
};

// A 128 MiB young generation and an explicit gc() let the decision bench measure allocation.
const decision = run('decision.ts', ['--expose-gc', '--max-semi-space-size=128']);
if (!json) console.log('');
const sim = run('sim.ts', []);
if (!json) console.log('');
const compare = run('compare.ts', []);
if (!json) console.log('');
const predict = run('predict.ts', []);
if (!json) console.log('');
// The agent bench pins real processes: it needs root (cgroups, other processes' affinity).
let agent: Record<string, unknown> = {};
if (process.getuid?.() === 0) agent = run('agent.ts', []);
else console.error('bench/agent.ts skipped: needs root');
if (json) console.log(JSON.stringify({ ...decision, sim, ...compare, ...predict, ...agent }));
