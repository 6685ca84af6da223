/**
 * A small hand-written run directory (scenario 'hand', 60 s, two nodes), whose every figure the
 * report tests can compute by hand: PSI spikes at 33 s, a deferral retried, a re-placement, a
 * shed, two faults. `policy`, `seed` and `metrics` make several of them a comparison.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function handRun(
  dir: string,
  opts: {
    localColumn?: boolean;
    predictor?: string;
    forecasts?: boolean;
    policy?: string;
    seed?: string;
    metrics?: object;
  } = {},
): void {
  mkdirSync(dir, { recursive: true });
  const level = { low: 0.3, medium: 0.6, high: 0.8, critical: 0.9 };
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      policy: opts.policy ?? 'engine',
      seed: opts.seed ?? '7',
      topology: { nodes: [{ id: 0 }, { id: 1 }] },
      scenario: {
        name: 'hand',
        duration: '60s',
        agent_interval_s: 1,
        timeseries_interval_s: 1,
        topology: '2n-32c',
        profiles: { api: { cpu_ms: { mean: 100 }, io_ms: 0, warm_start_ms: 0 } },
      },
      engine_config: {
        pressure: { thresholds: { cpu: level, memory: level, io: level } },
        scaling: { interval_ms: 10_000 },
      },
      ...(opts.predictor ? { predictor: { name: opts.predictor, horizon_s: 10, headroom: 2 } } : {}),
    }),
  );
  writeFileSync(
    join(dir, 'metrics.json'),
    JSON.stringify(
      opts.metrics ?? {
        latency_ms: { p50: 10, p95: 20, p99: 30.5, max: 99 },
        local_access_ratio: 0.75,
        requests: { arrived: 4, deferred: 1, shed: 1 },
        mttd_s: null,
      },
    ),
  );
  writeFileSync(
    join(dir, 'faults.json'),
    JSON.stringify([
      { kind: 'crash', target: 'api-1', injected_s: 10, detected_s: 12, recovered_s: 13 },
      { kind: 'hang', target: 'api-2', injected_s: 20, detected_s: null, recovered_s: null },
    ]),
  );
  const head = `t_s,node,cpu_util,cpu_some_avg10,cpu_full_avg10,mem_some_avg10,mem_full_avg10,io_some_avg10,io_full_avg10,active,warm,mem_used_kb${opts.localColumn ? ',local_access_ratio' : ''}`;
  const rows = [head];
  for (let t = 0; t <= 60; t++) {
    const extra = opts.localColumn ? `,${t < 30 ? 0.5 : 1}` : '';
    rows.push(`${t},0,0.2500,0,0,0,0,0,0,1,0,0${extra}`, `${t},1,0.7500,0,0,0,0,0,0,0,${t >= 40 ? 0 : 2},0${extra}`);
    rows.push(`${t},all,0.5000,${t === 33 ? '87.50' : '1.00'},0,0,0,0,0,1,${t >= 40 ? 0 : 2},0${extra}`);
  }
  writeFileSync(join(dir, 'timeseries.csv'), `${rows.join('\n')}\n`);
  const d = (t_ms: number, id: string, action: string) =>
    JSON.stringify({
      seq: 0,
      t_ms,
      request_id: id,
      profile: 'api',
      action,
      reason: 'x',
      confidence: 1,
      inputs_digest: '',
    });
  // What the predictor said at each 10-s scaling cycle, as sim/run.ts records it (two profiles at 10 s).
  if (opts.forecasts !== false)
    writeFileSync(
      join(dir, 'forecasts.csv'),
      `${[
        't_s,profile,demand_per_s,demand_p90_per_s,recommended_size',
        '0,api,0,,0',
        '10,api,0.2,,2',
        '10,db,0.1,0.3,1',
        '20,api,0.5,,3',
      ].join('\n')}\n`,
    );
  writeFileSync(
    join(dir, 'decisions.jsonl'),
    `${[
      d(100, 'r0', 'place'),
      d(200, 'r1', 'defer'),
      d(5200, 'r1', 'place'),
      d(30_000, 'r2', 'place'),
      d(40_000, 'r2', 'place'),
      d(50_000, 'r3', 'shed'),
    ].join('\n')}\n`,
  );
}
