/**
 * One simulated run: builds the host, the policy, the workload and the faults from a scenario,
 * runs the agent loop and the event queue to the end (sim/agent-loop.ts: async, as the demand
 * predictor may be), and writes the run directory of docs/formats.md — run.json,
 * decisions.jsonl, metrics.json, timeseries.csv (plus wall.json, the wall-clock figures, kept
 * apart so metrics.json is identical for the same scenario and seed). Files go to a temporary
 * directory renamed into place at the end (formats/files.ts), so a crash or Ctrl-C never leaves a
 * partial run, and the directory carries fgo's marker; an existing directory is replaced only if
 * it is empty or fgo's, or with `force` (formats/outputs.ts).
 */
import { openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitDir, discardTemp, makeTempDir } from '../formats/files.ts';
import { InputError } from '../formats/errors.ts';
import { markerText, OUTPUT_MARKER, outputDirProblem } from '../formats/outputs.ts';
import { Orchestrator, parseConfig, type Config, type PsiSet, type Topology } from '../engine/index.ts';
import { recordedDecision } from '../engine/record.ts';
import type { DemandPredictor } from '../predict/predictor.ts';
import {
  DEFAULT_HEADROOM,
  defaultPredictor,
  runAgentLoop,
  ScalingForecasts,
  scalingCycle_us,
  type RunWatcher,
} from './agent-loop.ts';
import { playBackground, type Background } from './background.ts';
import {
  DEFAULT_KEEP_ALIVE_MS,
  FIXED_KEEP_ALIVE_BASELINES,
  GRAPH_BLIND,
  makeBaseline,
  type PolicyName,
} from './baselines.ts';
import { CallMaker } from './calls.ts';
import { EventQueue } from './events.ts';
import { FaultInjector } from './faults.ts';
import { Host } from './host.ts';
import { Metrics, WallClock, type MetricsSummary } from './metrics.ts';
import { simProfileSchema, type Scenario, type SimProfile } from './scenario.ts';
import { parseDuration_s } from '../formats/duration.ts';
import { Shell, type Policy, type ShellSinks } from './shell.ts';
import { psiReplay } from './sampler.ts';
import type { WorkloadTrace } from './workload.ts';
import { feedArrivals } from './arrivals.ts';
import { compactDecision, type DecisionLog } from './decision-log.ts';
import { LineSink } from './line-sink.ts';

export interface RunInputs {
  scenario: Scenario;
  topology: Topology;
  /** A bundled policy by name, or your own (`CustomPolicy`: index.ts has an example). */
  policy: PolicyName | CustomPolicy;
  /** Trace rows already read and validated by the caller (formats/traces.ts). */
  workload?: WorkloadTrace;
  /** Traces replayed beside the generators (the scenario's `replay`), already read. */
  replay?: WorkloadTrace[];
  psi?: { mode: 'overlay' | 'replace'; rows: Array<{ t_ms: number; set: PsiSet }> };
  /** A neighbour replayed from a host recording (sim/background.ts), already read. */
  background?: { recording: Background; node?: number; copies: number };
  /** Run directory to write; none: compute metrics only. */
  out?: string;
  /** Replace `out` even if it exists and is not an fgo output (`--force`). */
  force?: boolean;
  /** How much of the decision stream decisions.jsonl keeps (default compact). */
  decisions?: DecisionLog;
  progress?: (fraction: number) => void;
  warn?: (message: string) => void;
  versions?: Record<string, string>;
  /**
   * The demand predictor asked once per scaling cycle, for all profiles in one batch (default: an
   * EWMA, α 0.5, of the arrivals per scaling cycle, forecasting one cycle ahead).
   */
  predictor?: DemandPredictor;
  /** Pool size over the Little's-law concurrency a forecast implies (default 2). */
  headroom?: number;
  /** The fixed keep-alive of an idle warm fragment, ms (default 10 minutes), of the baselines that have one; the engine's pools and the hybrid keep-alive ignore it. */
  keepAlive_ms?: number;
  /** Watch the run as it happens (decisions, samples, a pause per scaling cycle): `fgo sim --serve`. */
  watch?: RunWatcher;
}

/** A policy of your own, run by the twin exactly as the engine is: `create` is called once per run. */
export interface CustomPolicy {
  /** What run.json and reports call it. */
  name: string;
  create(o: { config: Config; topology: Topology; seed: string }): Policy;
}

export interface RunResult {
  metrics: MetricsSummary;
  wall: ReturnType<WallClock['summary']>;
  dir?: string;
}

/** The engine config a scenario implies: its catalogue as engine profiles, its overrides on top. */
export function engineConfigFor(s: Scenario): Config {
  const profiles: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(s.profiles)) {
    profiles[name] = {
      cpus: p.cpus,
      memory_kb: Math.round(p.memory_mb * 1024),
      io_intensive: p.io_ms > 0,
      cold_start_ms: p.cold_start_ms,
      warm_start_ms: p.warm_start_ms,
      latency_slo_ms: p.slo_ms,
      memory_intensity: p.memory_intensity,
      calls: p.calls,
      // What a request of the profile is declared to take, as an operator would state it: the
      // engine's prior until it has measured the real thing.
      service_ms: Math.max(1, p.cpu_ms.mean + p.io_ms),
      pool: { min: 0, target: 0, max: 256, ...p.pool },
    };
  }
  const overrides = s.engine as { profiles?: Record<string, Record<string, unknown>> };
  for (const [name, o] of Object.entries(overrides.profiles ?? {}))
    profiles[name] = { ...(profiles[name] as object), ...o };
  return parseConfig({ ...s.engine, profiles });
}

/** forecasts.csv: one row per profile per scaling cycle; demand_p90_per_s empty when the predictor gives none. */
export const FORECAST_HEADER = 't_s,profile,demand_per_s,demand_p90_per_s,recommended_size';

/** timeseries.csv: cpu_util a fraction 0–1, the PSI averages in percent as the kernel prints them (docs/formats.md). */
const TS_HEADER =
  't_s,node,cpu_util,cpu_some_avg10_pct,cpu_full_avg10_pct,mem_some_avg10_pct,mem_full_avg10_pct,io_some_avg10_pct,io_full_avg10_pct,active,warm,mem_used_kb';

/**
 * The predictor, yielding to the event loop before each forecast: the run is otherwise one long
 * stretch of synchronous work, and a signal's handler (Ctrl-C removing the temporary run
 * directory) would wait for its end. Once per scaling cycle costs nothing measurable.
 */
function yielding(p: DemandPredictor): DemandPredictor {
  return {
    name: p.name,
    horizon_s: p.horizon_s,
    history_len: p.history_len,
    forecast: async (batch) => {
      await new Promise<void>((done) => setImmediate(done));
      return p.forecast(batch);
    },
  };
}

/** Refuse `out` when it exists and may not be replaced: an InputError (exit 2, as every bad run input). */
function checkOut(out: string, force: boolean): void {
  const problem = outputDirProblem('--out', out, force);
  if (problem) throw new InputError([problem], 2);
}

export async function runSimulation(inp: RunInputs): Promise<RunResult> {
  if (inp.out) checkOut(inp.out, inp.force === true);
  const tmp = inp.out ? makeTempDir(inp.out) : undefined;
  try {
    return await simulate(inp, tmp);
  } catch (e) {
    // A failed run (a predictor that threw, say) leaves no partial run directory behind.
    if (tmp) discardTemp(tmp);
    throw e;
  }
}

/** The run itself, its files written to `tmp` (when there is an output) and committed at the end. */
async function simulate(inp: RunInputs, tmp: string | undefined): Promise<RunResult> {
  const s = inp.scenario;
  const seed = String(s.seed);
  const end_us = Math.round(parseDuration_s(s.duration) * 1e6);
  const config = engineConfigFor(s);
  const topo = inp.topology;
  const keepAlive_ms = inp.keepAlive_ms ?? DEFAULT_KEEP_ALIVE_MS;
  const policyName = typeof inp.policy === 'string' ? inp.policy : inp.policy.name;
  const policy = makePolicy(inp.policy, config, topo, seed, keepAlive_ms);
  const cycle_us = scalingCycle_us(config, s.agent_interval_s * 1e6);
  const predictor = yielding(inp.predictor ?? defaultPredictor(cycle_us, end_us));
  const headroom = inp.headroom ?? DEFAULT_HEADROOM;
  if (!(headroom > 0)) throw new RangeError(`headroom must be > 0, got ${headroom}`);
  const level = inp.decisions ?? 'compact';
  const streams = openStreams(tmp, level);

  const q = new EventQueue();
  const metrics = new Metrics();
  const wall = new WallClock();
  const host = new Host(topo, s.io_parallelism, Math.round(s.background_mem_mb * 1024));
  const profiles = new Map<string, SimProfile>(Object.entries(s.profiles));
  profiles.set('*', simProfileSchema.parse({}));
  const shell = new Shell(
    q,
    policy,
    profiles,
    metrics,
    decisionSinks(level, streams.decisions, wall, inp.watch),
    host,
    config.health.interval_ms,
    psiReplay(inp.psi),
    new CallMaker(seed, (name) => profiles.get(name) ?? (profiles.get('*') as SimProfile), topo),
  );
  const forecasts = new ScalingForecasts(predictor, shapesOf(profiles), headroom, cycle_us, (t_us, preds) => {
    for (const p of preds)
      streams.forecasts.write(
        `${t_us / 1e6},${p.profile},${p.demand_per_s},${p.demand_p90_per_s ?? ''},${p.recommended_size}`,
      );
  });
  const arrivals = { q, shell, metrics, forecasts, profiles, topo, seed, end_us, warn: inp.warn };
  feedArrivals(arrivals, s.profiles, inp.workload, inp.replay ?? []);
  if (inp.background) playNeighbour(inp.background, shell, end_us);
  const faults = new FaultInjector(q, shell, metrics, seed);
  faults.schedule(s.faults, end_us);

  if (policy instanceof Orchestrator) inp.watch?.engine?.(() => policy.status());
  try {
    await runAgentLoop({
      q,
      shell,
      host,
      scenario: s,
      config,
      end_us,
      forecasts,
      ...(tmp ? { series: (line: string) => streams.series.write(line) } : {}),
      ...(inp.progress ? { progress: inp.progress } : {}),
      ...(inp.watch ? { watch: inp.watch } : {}),
    });
  } catch (e) {
    streams.close();
    throw e;
  }

  const summary = summarise(policy, faults, shell, metrics, end_us);
  const wallSummary = wall.summary(q.processed);
  streams.close();
  if (tmp && inp.out) {
    const run = runRecord(inp, policyName, config, { name: predictor.name, horizon_s: predictor.horizon_s, headroom });
    writeRunDir(tmp, inp.out, inp.force === true, metrics, summary, wallSummary, run);
  }
  return { metrics: summary, wall: wallSummary, ...(inp.out ? { dir: inp.out } : {}) };
}

/** The policy the run asks: your own, the engine (with or without the fragment graph), or a baseline. */
function makePolicy(
  p: RunInputs['policy'],
  config: Config,
  topology: Topology,
  seed: string,
  keepAlive_ms: number,
): Policy {
  if (typeof p !== 'string') return p.create({ config, topology, seed });
  if (p === 'engine') return new Orchestrator({ config, topology, seed });
  if (p === GRAPH_BLIND) return new Orchestrator({ config: { ...config, graph: { enabled: false } }, topology, seed });
  return makeBaseline(p, config, topology, seed, keepAlive_ms);
}

/** The run's streamed files (none without an output directory), each with its header. */
function openStreams(tmp: string | undefined, level: DecisionLog) {
  const open = (name: string) => (tmp ? openSync(join(tmp, name), 'w') : undefined);
  const decisions = new LineSink(level !== 'none' ? open('decisions.jsonl') : undefined);
  const series = new LineSink(open('timeseries.csv'));
  series.write(TS_HEADER);
  // Every cycle's forecast, as the policy was given it: what the report draws (docs/files.md).
  const forecasts = new LineSink(open('forecasts.csv'));
  forecasts.write(FORECAST_HEADER);
  const close = () => {
    decisions.close();
    series.close();
    forecasts.close();
  };
  return { decisions, series, forecasts, close };
}

/** Where each decision goes: the journal (at `level`), the watcher, and the decision-latency clock. */
function decisionSinks(
  level: DecisionLog,
  journal: LineSink,
  wall: WallClock,
  watch: RunWatcher | undefined,
): ShellSinks {
  const every = typeof level === 'object' ? level.sample : 1;
  let seen = 0;
  return {
    decision: (d) => {
      if (level !== 'none' && seen++ % every === 0)
        journal.write(level === 'all' ? JSON.stringify(recordedDecision(d)) : compactDecision(d));
      watch?.decision?.(d);
    },
    timed: (ns) => wall.recordDecision_ns(ns),
  };
}

/** What the forecasts need of each profile: how long a request holds a fragment. */
function shapesOf(profiles: ReadonlyMap<string, SimProfile>) {
  return new Map(
    [...profiles]
      .filter(([k]) => k !== '*')
      .map(([k, p]) => [k, { service_ms: p.cpu_ms.mean + p.io_ms + p.warm_start_ms }]),
  );
}

/** A neighbour's recorded load, played on one node or spread over every node with CPUs. */
function playNeighbour(bg: NonNullable<RunInputs['background']>, shell: Shell, end_us: number): void {
  const { recording, node, copies } = bg;
  const topo = shell.host.topo;
  if (node !== undefined && !topo.byId.has(node))
    throw new RangeError(
      `background: node ${node} is not in the topology (nodes ${topo.nodes.map((x) => x.id).join(', ')})`,
    );
  const targets = node !== undefined ? [node] : topo.nodes.filter((x) => x.allowed_cpus.length > 0).map((x) => x.id);
  playBackground(
    recording,
    copies / targets.length,
    end_us,
    (t, fn) => shell.q.at(t, fn),
    (load) => {
      for (const id of targets) shell.setNeighbour(id, load);
    },
  );
}

/** The run's figures at its end: faults matched with the policy's incidents, unfinished requests counted. */
function summarise(policy: Policy, faults: FaultInjector, shell: Shell, metrics: Metrics, end_us: number) {
  const incidents = policy.incidents?.();
  const outages = policy.outageList?.();
  if (incidents)
    faults.resolve(
      [...incidents.closed, ...incidents.open],
      outages ? [...outages.closed, ...outages.open] : undefined,
    );
  const nodes = shell.host.nodes;
  for (const h of nodes) h.cpu.advance(end_us);
  const capacity = nodes.map((h) => h.cpu.capacity * end_us);
  for (const sr of shell.unfinished()) metrics.unfinished(sr, end_us - sr.arrival_us);
  return metrics.summary(
    shell.q.processed,
    nodes.map((h) => h.cpu.busy_unit_us),
    capacity,
    end_us / 1e6,
  );
}

/** run.json: what was run — the inputs, seed, versions, the engine config, the predictor. */
function runRecord(
  inp: RunInputs,
  policyName: string,
  config: Config,
  predictor: { name: string; horizon_s: number; headroom: number },
) {
  const level = inp.decisions ?? 'compact';
  return {
    scenario: inp.scenario,
    policy: policyName,
    seed: String(inp.scenario.seed),
    topology: inp.topology.json,
    engine_config: config,
    versions: inp.versions ?? {},
    predictor,
    ...((FIXED_KEEP_ALIVE_BASELINES as readonly string[]).includes(policyName)
      ? { keep_alive_ms: inp.keepAlive_ms ?? DEFAULT_KEEP_ALIVE_MS }
      : {}),
    ...(level === 'compact' ? {} : { decisions: level }),
  };
}

/** The run directory's JSON files and marker, then the temporary directory renamed into place. */
function writeRunDir(
  tmp: string,
  out: string,
  force: boolean,
  metrics: Metrics,
  summary: MetricsSummary,
  wallSummary: RunResult['wall'],
  run: Record<string, unknown>,
): void {
  const write = (name: string, v: unknown) => writeFileSync(join(tmp, name), `${JSON.stringify(v, null, 2)}\n`);
  write('run.json', run);
  write('metrics.json', summary);
  write('wall.json', wallSummary);
  write('histograms.json', metrics.histograms());
  write(
    'faults.json',
    metrics.faults.map((f) => ({
      kind: f.kind,
      target: f.target,
      injected_s: f.injected_us / 1e6,
      detected_s: f.detected_us === undefined ? null : f.detected_us / 1e6,
      recovered_s: f.recovered_us === undefined ? null : f.recovered_us / 1e6,
    })),
  );
  writeFileSync(join(tmp, OUTPUT_MARKER), markerText('sim-run'));
  checkOut(out, force); // again: something may have appeared there during the run
  commitDir(tmp, out);
}
