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
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { commitDir, discardTemp, makeTempDir } from '../formats/files.ts';
import { InputError } from '../formats/errors.ts';
import { markerText, OUTPUT_MARKER, outputDirProblem } from '../formats/outputs.ts';
import {
  Orchestrator,
  parseConfig,
  type Config,
  type Decision,
  type PsiSet,
  type Request,
  type Topology,
} from '../engine/index.ts';
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
import type { SimRequest } from './fragment.ts';
import { Shell, type Policy } from './shell.ts';
import {
  demandReplay,
  drawCpu_ms,
  drawPriority,
  drawWorkingSet_kb,
  generator,
  requestReplay,
  type ArrivalSource,
} from './workload.ts';
import { makeRng } from './random.ts';

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

export type WorkloadTrace =
  | { kind: 'demand'; rows: Array<{ t_s: number; profile: string; count: number }> }
  | {
      kind: 'request';
      rows: Array<{
        t_ms: number;
        profile: string;
        cpu_ms: number;
        mem_mb: number;
        priority: 0 | 1 | 2 | 3;
        io: boolean;
      }>;
    };

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

/** Buffered line writer straight to a file descriptor: decisions stream out, memory stays flat. */
class LineSink {
  private buf: string[] = [];
  private size = 0;
  constructor(private readonly fd: number | undefined) {}
  write(line: string): void {
    if (this.fd === undefined) return;
    this.buf.push(line);
    this.size += line.length + 1;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.fd === undefined || this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

/**
 * How much of the decision stream a run writes: every decision whole (`all`, every node's score),
 * `compact` (the default, below), one `compact` decision in N (`sample`, the 1st, (N+1)th, …), or
 * none. Metrics never depend on it; a sweep or a scorecard need not pay for a journal it never
 * reads (a 24-hour run of the engine on diurnal-8n writes several GB in full).
 */
export type DecisionLog = 'all' | 'compact' | 'none' | { sample: number };

/** `all`, `compact`, `none` or `sample:N` (N ≥ 1), as the command line writes it. */
export function parseDecisionLog(text: string): DecisionLog {
  if (text === 'all' || text === 'compact' || text === 'none') return text;
  const m = /^sample:(\d+)$/.exec(text);
  if (m && Number(m[1]) >= 1) return { sample: Number(m[1]) };
  throw new RangeError(`'${text}' is not a decision log level: all, compact, sample:N (N ≥ 1) or none`);
}

/**
 * The journal's compact form of a decision: everything but the per-node score table (kept for the
 * chosen node and the runner-up) and the CPU lists, which at 64 nodes would make the journal
 * twenty times larger; `--decisions all` keeps it all. Fields as in the full decision.
 */
function compact(d: Decision): string {
  let chosen, other;
  for (const s of d.scores) {
    if (s.node === d.node) chosen = s;
    else if (s.eligible && (!other || s.total > other.total)) other = s;
  }
  return JSON.stringify({
    seq: d.seq,
    t_ms: d.t_ms,
    request_id: d.request_id,
    profile: d.profile,
    action: d.action,
    start: d.start,
    node: d.node,
    fragment: d.fragment,
    delay_ms: d.delay_ms,
    retry_after_ms: d.retry_after_ms,
    reason: d.reason,
    confidence: d.confidence,
    inputs_digest: d.inputs_digest,
    scores: chosen || other ? [chosen, other].filter(Boolean) : undefined,
    commands: d.commands.length
      ? d.commands.map((c) => ('fragment' in c ? { type: c.type, fragment: c.fragment } : { type: c.type }))
      : undefined,
  });
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
  const policy: Policy =
    typeof inp.policy !== 'string'
      ? inp.policy.create({ config, topology: topo, seed })
      : inp.policy === 'engine'
        ? new Orchestrator({ config, topology: topo, seed })
        : inp.policy === GRAPH_BLIND
          ? new Orchestrator({ config: { ...config, graph: { enabled: false } }, topology: topo, seed })
          : makeBaseline(inp.policy, config, topo, seed, keepAlive_ms);
  const cycle_us = scalingCycle_us(config, s.agent_interval_s * 1e6);
  const predictor = yielding(inp.predictor ?? defaultPredictor(cycle_us, end_us));
  const headroom = inp.headroom ?? DEFAULT_HEADROOM;
  if (!(headroom > 0)) throw new RangeError(`headroom must be > 0, got ${headroom}`);

  const level = inp.decisions ?? 'compact';
  const decisions = new LineSink(tmp && level !== 'none' ? openSync(join(tmp, 'decisions.jsonl'), 'w') : undefined);
  const every = typeof level === 'object' ? level.sample : 1;
  let seen = 0;
  const series = new LineSink(tmp ? openSync(join(tmp, 'timeseries.csv'), 'w') : undefined);
  series.write(TS_HEADER);

  const q = new EventQueue();
  const metrics = new Metrics();
  const wall = new WallClock();
  const host = new Host(topo, s.io_parallelism, Math.round(s.background_mem_mb * 1024));
  const profiles = new Map<string, SimProfile>(Object.entries(s.profiles));
  profiles.set('*', simProfileSchema.parse({}));
  let psiAt: ((t_ms: number) => PsiSet | undefined) | undefined;
  if (inp.psi && inp.psi.rows.length) {
    const rows = inp.psi.rows;
    const t0 = (rows[0] as { t_ms: number }).t_ms;
    const span = Math.max(1, (rows[rows.length - 1] as { t_ms: number }).t_ms - t0);
    // The recording plays from the run's start and loops if the run is longer.
    psiAt = (t_ms) => {
      const t = t0 + (t_ms % span);
      let lo = 0,
        hi = rows.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((rows[mid] as { t_ms: number }).t_ms <= t) lo = mid;
        else hi = mid - 1;
      }
      return (rows[lo] as { set: PsiSet }).set;
    };
  }
  const shell = new Shell(
    q,
    policy,
    profiles,
    metrics,
    {
      decision: (d) => {
        if (level !== 'none' && seen++ % every === 0) decisions.write(level === 'all' ? JSON.stringify(d) : compact(d));
        inp.watch?.decision?.(d);
      },
      timed: (ns) => wall.recordDecision_ns(ns),
    },
    host,
    config.health.interval_ms,
    psiAt && inp.psi ? { mode: inp.psi.mode, at: psiAt } : undefined,
    new CallMaker(seed, (name) => profiles.get(name) ?? (profiles.get('*') as SimProfile), topo),
  );

  // Workload.
  const homes = topo.nodes.filter((n) => n.memory_kb > 0).map((n) => n.id);
  const reqRng = makeRng(seed, 'requests');
  // Its own stream, drawn only for profiles that have a working set: other runs stay byte-identical.
  const wsRng = makeRng(seed, 'working-set');
  const warned = new Set<string>();
  const shapes = new Map(
    [...profiles]
      .filter(([k]) => k !== '*')
      .map(([k, p]) => [k, { service_ms: p.cpu_ms.mean + p.io_ms + p.warm_start_ms }]),
  );
  // Every cycle's forecast, as the policy was given it: what the report draws (docs/files.md).
  const forecastLog = new LineSink(tmp ? openSync(join(tmp, 'forecasts.csv'), 'w') : undefined);
  forecastLog.write(FORECAST_HEADER);
  const forecasts = new ScalingForecasts(predictor, shapes, headroom, cycle_us, (t_us, preds) => {
    for (const p of preds)
      forecastLog.write(
        `${t_us / 1e6},${p.profile},${p.demand_per_s},${p.demand_p90_per_s ?? ''},${p.recommended_size}`,
      );
  });
  let n = 0;
  const feed = (src: ArrivalSource) => {
    const a = src.next();
    if (!a) return;
    q.at(a.t_us, () => {
      let p = profiles.get(a.profile);
      if (!p) {
        p = profiles.get('*') as SimProfile;
        if (!warned.has(a.profile))
          inp.warn?.(`profile '${a.profile}' is not in the scenario's catalogue: using default start times`);
        warned.add(a.profile);
      }
      const home =
        p.home === 'none' ? undefined : p.home === 'random' ? homes[Math.floor(reqRng() * homes.length)] : p.home;
      const cpu_ms = a.cpu_ms ?? drawCpu_ms(p, reqRng);
      const req: Request = {
        id: `r${n++}`,
        profile: a.profile,
        cpus: p.cpus,
        memory_kb: Math.round((a.mem_mb ?? p.request_mb) * 1024),
        priority: a.priority ?? drawPriority(p, reqRng),
        io_intensive: a.io ?? p.io_ms > 0,
      };
      if (home !== undefined) req.memory_home = home; // assigned, not spread: once per arrival, and the same key order
      const sr: SimRequest = {
        req,
        arrival_us: q.now_us,
        cpu_ms,
        io_ms: a.io === false ? 0 : p.io_ms,
        mem_kb: drawWorkingSet_kb(p, a.mem_mb ?? p.request_mb, wsRng),
        home,
        profile: p,
        deferred: false,
        cold: false,
        attempt: 0,
        pending: 0,
        done: false,
      };
      metrics.arrival(sr);
      forecasts.arrival(a.profile, q.now_us);
      shell.submit(sr);
      feed(src);
    });
  };
  if (inp.workload?.kind === 'demand') feed(demandReplay(inp.workload.rows, seed, end_us));
  else if (inp.workload?.kind === 'request') feed(requestReplay(inp.workload.rows, end_us));
  else
    for (const [name, p] of Object.entries(s.profiles).sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      feed(generator(name, p, seed, end_us));
  (inp.replay ?? []).forEach((t, i) =>
    feed(t.kind === 'demand' ? demandReplay(t.rows, seed, end_us, `replay:${i}`) : requestReplay(t.rows, end_us)),
  );

  if (inp.background) {
    const { recording, node, copies } = inp.background;
    if (node !== undefined && !topo.byId.has(node))
      throw new RangeError(
        `background: node ${node} is not in the topology (nodes ${topo.nodes.map((x) => x.id).join(', ')})`,
      );
    const targets = node !== undefined ? [node] : topo.nodes.filter((x) => x.allowed_cpus.length > 0).map((x) => x.id);
    playBackground(
      recording,
      copies / targets.length,
      end_us,
      (t, fn) => q.at(t, fn),
      (load) => {
        for (const id of targets) shell.setNeighbour(id, load);
      },
    );
  }

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
      ...(tmp ? { series: (line: string) => series.write(line) } : {}),
      ...(inp.progress ? { progress: inp.progress } : {}),
      ...(inp.watch ? { watch: inp.watch } : {}),
    });
  } catch (e) {
    decisions.close();
    series.close();
    forecastLog.close();
    throw e;
  }

  const incidents = policy.incidents?.();
  const outages = policy.outageList?.();
  if (incidents)
    faults.resolve(
      [...incidents.closed, ...incidents.open],
      outages ? [...outages.closed, ...outages.open] : undefined,
    );
  for (const h of host.nodes) h.cpu.advance(end_us);
  const capacity = host.nodes.map((h) => h.cpu.capacity * end_us);
  for (const sr of shell.unfinished()) metrics.unfinished(sr, end_us - sr.arrival_us);
  const summary = metrics.summary(
    q.processed,
    host.nodes.map((h) => h.cpu.busy_unit_us),
    capacity,
    end_us / 1e6,
  );
  const wallSummary = wall.summary(q.processed);
  decisions.close();
  series.close();
  forecastLog.close();

  if (tmp && inp.out) {
    const write = (name: string, v: unknown) => writeFileSync(join(tmp, name), JSON.stringify(v, null, 2) + '\n');
    write('run.json', {
      scenario: s,
      policy: policyName,
      seed,
      topology: topo.json,
      engine_config: config,
      versions: inp.versions ?? {},
      predictor: { name: predictor.name, horizon_s: predictor.horizon_s, headroom },
      ...((FIXED_KEEP_ALIVE_BASELINES as readonly string[]).includes(policyName)
        ? { keep_alive_ms: keepAlive_ms }
        : {}),
      ...(level === 'compact' ? {} : { decisions: level }),
    });
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
    checkOut(inp.out, inp.force === true); // again: something may have appeared there during the run
    commitDir(tmp, inp.out);
  }
  return { metrics: summary, wall: wallSummary, ...(inp.out ? { dir: inp.out } : {}) };
}
