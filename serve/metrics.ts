/**
 * The live agent's Prometheus metrics. Everything lives on a registry of its own rather than
 * prom-client's global one, so two agents (or a test and an agent) in one process never collide on
 * a metric name, and `text()` shows exactly this agent's figures.
 *
 * Names follow the Prometheus naming guide and node_exporter (docs/prometheus.md lists them all):
 * base units in the name (`_seconds`, `_bytes`), fractions 0–1 end in `_ratio`, counters in
 * `_total`, and no figure is exported twice under two names.
 *
 * Every label value is bounded by construction (engine enums, resource names, node ids, profile
 * names from the configuration, fixed route names): a label fed from request data would let any
 * caller grow the series set without bound.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Status } from '../engine/status.ts';
import { RESOURCES, type Command, type Decision, type Observation, type PressureView } from '../engine/types.ts';

const PSI_LINES = ['some', 'full'] as const;
const PSI_WINDOWS = ['avg10', 'avg60', 'avg300'] as const;
/** Pool states reported per profile; the keys of the engine's per-pool `count`. */
const POOL_STATES = ['starting', 'warm', 'active', 'draining', 'stopped', 'failed'] as const;

/** Why the API closed a connection to protect the others (see serve/limits.ts). */
export type ApiShedReason = 'evicted' | 'refused' | 'stream_full' | 'stream_slow' | 'stream_unresponsive';

/** Engine calls take microseconds to a few milliseconds; buckets from 50 µs to 250 ms. */
const DECISION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
/**
 * A served request takes from a millisecond (a warm worker's quick answer) to a cold start
 * (`ready_timeout_ms`, 10 s by default) plus its work; a waiting call is held at most 120 s
 * (live/pool-mode.ts), so the last finite bucket is 120 s.
 */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** This code's version, for fgo_build_info (the agent's own `version` comes from the same file). */
import { FGO_VERSION } from '../formats/version.ts';

type Registers = Registry[];

/**
 * The process and Node.js figures prom-client collects, and fgo_build_info. Default metrics keep
 * their standard unprefixed names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...)
 * so stock dashboards and alerts work on them unchanged.
 */
function registerProcessMetrics(registry: Registry): void {
  // The event-loop lag monitor samples every 10 ms by default: 100 wake-ups a second would be
  // most of an idle agent's CPU. Once a second still shows a blocked loop.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1_000 });
  // These three gauges are only the sums of nodejs_active_{handles,requests,resources}{type}:
  // the same figure twice, and a gauge named like a counter (promtool check metrics flags them).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
  // The usual *_build_info pattern: constant 1, the facts in labels, joined onto other series in queries.
  new Gauge({
    name: 'fgo_build_info',
    help: 'Constant 1; labels: fgo version, Node.js version and the source commit (FGO_COMMIT, empty when unknown).',
    labelNames: ['version', 'node_version', 'commit'],
    registers: [registry],
  }).set({ version: FGO_VERSION, node_version: process.versions.node, commit: process.env.FGO_COMMIT ?? '' }, 1);
}

/** What the agent did: engine decisions, cold starts, commands carried out, enforcement failures. */
function actionMetrics(registers: Registers) {
  return {
    // Defers and sheds are fgo_decisions_total{action="defer"|"shed"}; no separate counters repeat them.
    decisions: new Counter({
      name: 'fgo_decisions_total',
      help: 'Engine decisions by action (place, defer, shed, reject).',
      labelNames: ['action'],
      registers,
    }),
    coldStarts: new Counter({
      name: 'fgo_cold_starts_total',
      help: 'Placements that had to cold-start a fragment.',
      registers,
    }),
    commands: new Counter({
      name: 'fgo_commands_total',
      help: 'Commands the agent carried out, by type.',
      labelNames: ['type'],
      registers,
    }),
    enforcementErrors: new Counter({
      name: 'fgo_enforcement_errors_total',
      help: 'Failed enforcement operations by operation (cpuset, affinity, migrate_pages, cgroup_remove).',
      labelNames: ['op'],
      registers,
    }),
  };
}

/** The HTTP API: requests by route and code, and connections closed to protect the others. */
function apiMetrics(registers: Registers) {
  return {
    requests: new Counter({
      name: 'fgo_api_requests_total',
      help: 'HTTP API requests by route and status code.',
      labelNames: ['route', 'code'],
      registers,
    }),
    shed: new Counter({
      name: 'fgo_api_connections_shed_total',
      labelNames: ['reason'],
      registers,
      help: 'Connections the API closed to keep serving others: evicted (oldest idle one, to make room), refused (no room), stream_full, stream_slow (send buffer over the limit), stream_unresponsive (no pong).',
    }),
  };
}

/** The host as sampled: system PSI, the engine's pressure signals, each NUMA node's CPU and memory. */
function hostMetrics(registers: Registers) {
  return {
    pressure: new Gauge({
      name: 'fgo_pressure_ratio',
      help: 'System PSI running averages as fractions 0-1, by resource, line (some/full) and window (avg10/avg60/avg300).',
      labelNames: ['resource', 'line', 'window'],
      registers,
    }),
    pressureStall: new Counter({
      name: 'fgo_pressure_stall_seconds_total',
      labelNames: ['resource', 'line'],
      registers,
      help: "System PSI cumulative stall time in seconds (the kernel's total=, in µs, / 1e6), by resource and line; rate() of it is the stall fraction over any window.",
    }),
    pressureSignal: new Gauge({
      name: 'fgo_pressure_signal_ratio',
      help: 'The pressure signal decisions use, 0-1, by resource.',
      labelNames: ['resource'],
      registers,
    }),
    nodeCpuUtilization: new Gauge({
      name: 'fgo_node_cpu_utilization_ratio',
      help: "Busy share of a NUMA node's CPUs, 0-1.",
      labelNames: ['node'],
      registers,
    }),
    nodeMemFree: new Gauge({
      name: 'fgo_node_memory_free_bytes',
      help: 'Free memory of a NUMA node in bytes.',
      labelNames: ['node'],
      registers,
    }),
  };
}

/** The pools: fragments per profile and state, and all fragments managed. */
function poolMetrics(registers: Registers) {
  return {
    fragments: new Gauge({
      name: 'fgo_pool_fragments',
      help: "Fragments of a profile's pool, by state.",
      labelNames: ['profile', 'state'],
      registers,
    }),
    managed: new Gauge({
      name: 'fgo_fragments_managed',
      help: 'Fragments the agent manages across all nodes.',
      registers,
    }),
  };
}

/** How long things took: the engine per decision, a pool-mode request from admission to result. */
function durationMetrics(registers: Registers) {
  return {
    decision: new Histogram({
      name: 'fgo_decision_duration_seconds',
      help: 'Time spent in the engine per decision, seconds.',
      buckets: DECISION_BUCKETS,
      registers,
    }),
    request: new Histogram({
      name: 'fgo_request_duration_seconds',
      labelNames: ['profile', 'outcome'],
      buckets: REQUEST_BUCKETS,
      registers,
      help: "Pool mode: seconds from a request's admission to its worker's result (queueing, deferral, cold start and work), by profile and outcome (ok, error).",
    }),
  };
}

export class AgentMetrics {
  readonly registry = new Registry();

  private readonly actions: ReturnType<typeof actionMetrics>;
  private readonly api: ReturnType<typeof apiMetrics>;
  private readonly host: ReturnType<typeof hostMetrics>;
  private readonly pools: ReturnType<typeof poolMetrics>;
  private readonly durations: ReturnType<typeof durationMetrics>;

  constructor() {
    // Registration order is the order of `text()`: process figures first, then fgo's.
    registerProcessMetrics(this.registry);
    const registers = [this.registry];
    this.actions = actionMetrics(registers);
    this.api = apiMetrics(registers);
    this.host = hostMetrics(registers);
    this.pools = poolMetrics(registers);
    this.durations = durationMetrics(registers);
  }

  /** Content type of `text()` (Prometheus text exposition 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * One engine decision and how long the engine took for it. The decision's own commands are not
   * counted here: the agent reports what it actually carries out through `observeCommands`, which
   * also covers commands from ticks that are not decisions.
   */
  observeDecision(d: Decision, seconds: number): void {
    this.actions.decisions.inc({ action: d.action });
    if (d.action === 'place' && d.start === 'cold') this.actions.coldStarts.inc();
    if (Number.isFinite(seconds) && seconds >= 0) this.durations.decision.observe(seconds);
  }

  observeCommands(cmds: readonly Command[]): void {
    for (const c of cmds) this.actions.commands.inc({ type: c.type });
  }

  /** System PSI and per-node figures of one observation. */
  observeSample(obs: Observation): void {
    for (const resource of RESOURCES) {
      const reading = obs.psi[resource];
      for (const line of PSI_LINES) {
        const l = reading[line];
        for (const window of PSI_WINDOWS) {
          // cpu `full` is missing on older kernels: drop the series rather than report a stale value.
          if (l) this.host.pressure.set({ resource, line, window }, l[window]);
          else this.host.pressure.remove({ resource, line, window });
        }
        // The kernel's count since boot, exported as it is (as node_exporter does), so it only
        // rises. prom-client counters only add: the series is replaced by the exact new total
        // rather than added to by deltas, which would accumulate rounding.
        this.host.pressureStall.remove({ resource, line });
        if (l?.total_us !== undefined) this.host.pressureStall.inc({ resource, line }, l.total_us / 1e6);
      }
    }
    for (const n of obs.nodes ?? []) {
      const node = String(n.id);
      if (n.cpu_util !== undefined) this.host.nodeCpuUtilization.set({ node }, n.cpu_util);
      if (n.mem_free_kb !== undefined) this.host.nodeMemFree.set({ node }, n.mem_free_kb * 1024);
    }
  }

  /** The engine's pressure signals (the values decisions are based on). */
  observePressure(p: PressureView): void {
    for (const resource of RESOURCES) this.host.pressureSignal.set({ resource }, p[resource].value);
  }

  /** Pool sizes, managed fragments and pressure signals from an orchestrator status snapshot. */
  observeStatus(s: Status): void {
    this.observePressure(s.pressure);
    // Reset first so a profile removed by a config reload stops being reported.
    this.pools.fragments.reset();
    for (const p of s.pools)
      for (const state of POOL_STATES) this.pools.fragments.set({ profile: p.profile, state }, p[state]);
    this.pools.managed.set(s.nodes.reduce((sum, n) => sum + n.fragments, 0));
  }

  /** A pool-mode request answered by its worker: `seconds` from admission to the result. */
  observeRequest(profile: string, ok: boolean, seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0)
      this.durations.request.observe({ profile, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  enforcementError(op: string): void {
    this.actions.enforcementErrors.inc({ op });
  }

  /** `route` must come from a fixed set (the API passes its route names, or "other"), never a raw path. */
  apiRequest(route: string, code: number): void {
    this.api.requests.inc({ route, code: String(code) });
  }

  apiConnectionShed(reason: ApiShedReason): void {
    this.api.shed.inc({ reason });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
