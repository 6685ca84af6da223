/**
 * The twin's speed (a benchmark, not a test), printed as the `sim` object of docs/formats.md "Benchmark output":
 *   events_per_s        the whole twin — engine decisions, PSI model, run directory with the
 *                       default compact decisions.jsonl — on `default`, per CPU second of this
 *                       process (user + system: steadier than wall time on a shared machine);
 *   model_events_per_s  the event queue and processor-sharing model alone (arrivals and
 *                       completions on a 2-node host, no policy, no output), i.e. the core;
 *   scale_64n_wall_s    `scale-64n`, 24 simulated hours on 64 nodes, written to a run directory;
 *   mmc_vs_simpy        M/M/16 for 4 simulated hours in fgo (engine, least-loaded) and in SimPy 3,
 *                       customers per CPU second and fgo's ratios to SimPy (bench/mmc.ts);
 *   peak_rss_mb         this process's peak resident memory (all of the above).
 * Run by bench/main.ts in its own process, so the RSS is the twin's alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventQueue } from '../sim/events.ts';
import { Host, type NodeState, type Task } from '../sim/host.ts';
import { runSimulation } from '../sim/run.ts';
import { loadScenario, scenarioSchema } from '../sim/scenario.ts';
import { presetTopology } from '../sim/topologies.ts';
import { exponential, makeRng } from '../sim/random.ts';
import { mmcVsSimpy } from './mmc.ts';
import { roundTo } from '../engine/round.ts';

function modelEventsPerSecond(): number {
  const q = new EventQueue();
  const host = new Host(presetTopology('2n-32c'), 4, 0);
  const rng = makeRng(1, 'bench');
  const end_us = 600e6;
  // The same completion scheduling the shell uses: one pending event per node, versioned.
  const schedule = (n: NodeState) => {
    const t = n.cpu.nextFinish_us(q.now_us);
    if (t === undefined) return;
    const v = n.cpu.version;
    q.at(t, () => {
      if (n.cpu.version !== v) return;
      n.cpu.popFinished(q.now_us);
      schedule(n);
    });
  };
  // 1,000 arrivals per second of 20 ms work: about 20 of 32 CPUs busy.
  const arrive = () => {
    const n = host.nodes[Math.floor(rng() * host.nodes.length)] as NodeState;
    const task: Task = { work_us: exponential(rng, 20_000), weight: 1, finish_v: 0, heap_i: -1, done: () => {} };
    n.cpu.add(task, q.now_us);
    schedule(n);
    const next = q.now_us + Math.max(1, Math.round(exponential(rng, 1000)));
    if (next < end_us) q.at(next, arrive);
  };
  q.at(0, arrive);
  const t0 = process.hrtime.bigint();
  q.runUntil(end_us);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return Math.round(q.processed / s);
}

async function twin(name: string, duration?: string, out?: string) {
  const base = loadScenario(name);
  const scenario = scenarioSchema.parse(duration ? { ...base, duration } : base);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const r = await runSimulation({
    scenario,
    topology: presetTopology(scenario.topology),
    policy: 'engine',
    ...(out ? { out } : {}),
  });
  const c = process.cpuUsage(c0);
  return {
    wall_s: Number(process.hrtime.bigint() - t0) / 1e9,
    cpu_s: (c.user + c.system) / 1e6,
    events: r.metrics.sim.events,
    metrics: r.metrics,
  };
}

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const model = modelEventsPerSecond();
const mmc = await mmcVsSimpy(quick);
const dir = mkdtempSync(join(tmpdir(), 'fgo-bench-'));
const def = await twin('default', undefined, join(dir, 'default'));
const scale = quick ? undefined : await twin('scale-64n', undefined, join(dir, 'scale-64n'));
rmSync(dir, { recursive: true, force: true });
const result = {
  events_per_s: Math.round(def.events / def.cpu_s),
  model_events_per_s: model,
  scale_64n_wall_s: scale ? roundTo(scale.wall_s, 1) : null,
  scale_64n_events: scale?.events ?? null,
  mmc_vs_simpy: mmc,
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `twin on 'default' (engine, compact decisions.jsonl written): ${result.events_per_s.toLocaleString('en')} events/s (${def.events.toLocaleString('en')} events in ${def.cpu_s.toFixed(1)} CPU s)`,
  );
  console.log(`event queue + processor-sharing model alone: ${model.toLocaleString('en')} events/s`);
  if (scale)
    console.log(
      `scale-64n (24 h, 64 nodes, run directory written): ${result.scale_64n_wall_s} s wall, ${scale.events.toLocaleString('en')} events`,
    );
  const k = (x: number | null) => (x === null ? '—' : `${Math.round(x / 1000)}k`);
  console.log(
    `M/M/16, 4 h, ${mmc.customers.toLocaleString('en')} customers, customers per CPU second (no decision log): fgo engine ${k(mmc.fgo_engine_customers_per_s)}, fgo least-loaded ${k(mmc.fgo_baseline_customers_per_s)}, SimPy ${k(mmc.simpy_customers_per_s)}` +
      (mmc.engine === null ? '' : ` — ${mmc.engine}× and ${mmc.baseline}× SimPy`),
  );
  console.log(`peak RSS: ${result.peak_rss_mb} MB`);
}
