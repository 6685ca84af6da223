/**
 * One simulated run: builds the host, the policy, the workload and the faults from a scenario,
 * runs the event loop to the end, and writes the run directory of DESIGN.md — run.json,
 * decisions.jsonl, metrics.json, timeseries.csv (plus wall.json, the wall-clock figures, kept
 * apart so metrics.json is identical for the same scenario and seed). Files go to a temporary
 * directory renamed into place at the end, so a crash never leaves a partial run.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Orchestrator, parseConfig, type Config, type Decision, type PsiSet, type Topology } from '../engine/index.ts';
import { makeBaseline, type PolicyName } from './baselines.ts';
import { EventQueue } from './events.ts';
import { FaultInjector } from './faults.ts';
import { Host } from './host.ts';
import { Metrics, WallClock, type MetricsSummary } from './metrics.ts';
import { EwmaPredictor } from './predict.ts';
import { parseDuration_s, simProfileSchema, type Scenario, type SimProfile } from './scenario.ts';
import { Shell, type Policy, type SimRequest } from './shell.ts';
import { demandReplay, drawCpu_ms, drawPriority, generator, makeRng, requestReplay, type ArrivalSource } from './workload.ts';

export interface RunInputs {
  scenario: Scenario;
  topology: Topology;
  policy: PolicyName;
  /** Trace rows already read and validated by the caller (sim/traces.ts). */
  workload?: { kind: 'demand'; rows: Array<{ t_s: number; profile: string; count: number }> } | { kind: 'request'; rows: Array<{ t_ms: number; profile: string; cpu_ms: number; mem_mb: number; priority: 0 | 1 | 2 | 3; io: boolean }> };
  psi?: { mode: 'overlay' | 'replace'; rows: Array<{ t_ms: number; set: PsiSet }> };
  /** Run directory to write; none: compute metrics only. */
  out?: string;
  /** Keep every node's score in decisions.jsonl (large); by default only the chosen and the runner-up. */
  explainFull?: boolean;
  progress?: (fraction: number) => void;
  warn?: (message: string) => void;
  versions?: Record<string, string>;
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
      cpus: p.cpus, memory_kb: Math.round(p.memory_mb * 1024), io_intensive: p.io_ms > 0, cold_start_ms: p.cold_start_ms,
      warm_start_ms: p.warm_start_ms, latency_slo_ms: p.slo_ms, pool: { min: 0, target: 0, max: 256, ...p.pool },
    };
  }
  const overrides = s.engine as { profiles?: Record<string, Record<string, unknown>> };
  for (const [name, o] of Object.entries(overrides.profiles ?? {})) profiles[name] = { ...(profiles[name] as object), ...o };
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
 * The journal's compact form of a decision: everything but the per-node score table (kept for the
 * chosen node and the runner-up) and the CPU lists, which at 64 nodes would make the journal
 * twenty times larger; `--explain-full` keeps it all. Fields as in the full decision.
 */
function compact(d: Decision): string {
  let chosen, other;
  for (const s of d.scores) {
    if (s.node === d.node) chosen = s;
    else if (s.eligible && (!other || s.total > other.total)) other = s;
  }
  return JSON.stringify({
    seq: d.seq, t_ms: d.t_ms, request_id: d.request_id, profile: d.profile, action: d.action, start: d.start, node: d.node, fragment: d.fragment,
    delay_ms: d.delay_ms, retry_after_ms: d.retry_after_ms, reason: d.reason, confidence: d.confidence, inputs_digest: d.inputs_digest,
    scores: chosen || other ? [chosen, other].filter(Boolean) : undefined,
    commands: d.commands.length ? d.commands.map((c) => ('fragment' in c ? { type: c.type, fragment: c.fragment } : { type: c.type })) : undefined,
  });
}

const TS_HEADER = 't_s,node,cpu_util,cpu_some_avg10,cpu_full_avg10,mem_some_avg10,mem_full_avg10,io_some_avg10,io_full_avg10,active,warm,mem_used_kb';
const pct = (x: number) => (Math.round(x * 10000) / 100).toFixed(2);

export function runSimulation(inp: RunInputs): RunResult {
  const s = inp.scenario;
  const seed = String(s.seed);
  const end_us = Math.round(parseDuration_s(s.duration) * 1e6);
  const config = engineConfigFor(s);
  const topo = inp.topology;
  const policy: Policy = inp.policy === 'engine' ? new Orchestrator({ config, topology: topo, seed }) : makeBaseline(inp.policy, config, topo, seed);

  // Output: a temporary directory renamed into place at the end.
  const tmp = inp.out ? `${inp.out}.tmp-${process.pid}` : undefined;
  if (tmp) {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
  }
  const decisions = new LineSink(tmp ? openSync(join(tmp, 'decisions.jsonl'), 'w') : undefined);
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
      let lo = 0, hi = rows.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((rows[mid] as { t_ms: number }).t_ms <= t) lo = mid;
        else hi = mid - 1;
      }
      return (rows[lo] as { set: PsiSet }).set;
    };
  }
  const shell = new Shell(q, policy, profiles, metrics, {
    decision: (d) => decisions.write(inp.explainFull ? JSON.stringify(d) : compact(d)),
    timed: (ns) => wall.recordDecision_ns(ns),
  }, host, config.health.interval_ms, psiAt && inp.psi ? { mode: inp.psi.mode, at: psiAt } : undefined);

  // Workload.
  const homes = topo.nodes.filter((n) => n.memory_kb > 0).map((n) => n.id);
  const reqRng = makeRng(seed, 'requests');
  const warned = new Set<string>();
  const predictor = new EwmaPredictor(new Map([...profiles].filter(([k]) => k !== '*').map(([k, p]) => [k, { service_ms: p.cpu_ms.mean + p.io_ms + p.warm_start_ms }])));
  let n = 0;
  const feed = (src: ArrivalSource) => {
    const a = src.next();
    if (!a) return;
    q.at(a.t_us, () => {
      let p = profiles.get(a.profile);
      if (!p) {
        p = profiles.get('*') as SimProfile;
        if (!warned.has(a.profile)) inp.warn?.(`profile '${a.profile}' is not in the scenario's catalogue: using default start times`);
        warned.add(a.profile);
      }
      const home = p.home === 'none' ? undefined : p.home === 'random' ? homes[Math.floor(reqRng() * homes.length)] : p.home;
      const cpu_ms = a.cpu_ms ?? drawCpu_ms(p, reqRng);
      const sr: SimRequest = {
        req: { id: `r${n++}`, profile: a.profile, cpus: p.cpus, memory_kb: Math.round((a.mem_mb ?? p.request_mb) * 1024), priority: a.priority ?? drawPriority(p, reqRng), io_intensive: a.io ?? p.io_ms > 0, ...(home === undefined ? {} : { memory_home: home }) },
        arrival_us: q.now_us, cpu_ms, io_ms: a.io === false ? 0 : p.io_ms, mem_kb: Math.round((a.mem_mb ?? p.request_mb) * 1024), home, profile: p, deferred: false, cold: false,
      };
      metrics.arrived++;
      predictor.arrival(a.profile);
      shell.submit(sr);
      feed(src);
    });
  };
  if (inp.workload?.kind === 'demand') feed(demandReplay(inp.workload.rows, seed, end_us));
  else if (inp.workload?.kind === 'request') feed(requestReplay(inp.workload.rows, end_us));
  else for (const [name, p] of Object.entries(s.profiles).sort((a, b) => (a[0] < b[0] ? -1 : 1))) feed(generator(name, p, seed, end_us));

  const faults = new FaultInjector(q, shell, metrics, seed);
  faults.schedule(s.faults, end_us);

  // The agent loop: every agent interval (1 s by default); predictions once per scaling cycle.
  const agent_us = s.agent_interval_s * 1e6;
  let nextScale_us = 0;
  const series_every_us = s.timeseries_interval_s * 1e6;
  let nextSeries_us = 0;
  const agent = () => {
    const now = q.now_us;
    let preds;
    if (now >= nextScale_us) {
      nextScale_us = now + config.scaling.interval_ms * 1000;
      preds = predictor.predict(now / 1000);
    }
    shell.tick(preds);
    if (now >= nextSeries_us) {
      nextSeries_us = now + series_every_us;
      writeSeries(now);
    }
    inp.progress?.(now / end_us);
    if (now + agent_us <= end_us) q.after(agent_us, agent);
  };
  const writeSeries = (now: number) => {
    const obs = shell.obs();
    const per = new Map<number, { active: number; warm: number }>();
    for (const f of shell.frags.values()) {
      let c = per.get(f.node);
      if (!c) per.set(f.node, (c = { active: 0, warm: 0 }));
      if (f.request) c.active++;
      else if (f.state === 'ready') c.warm++;
    }
    const t = Math.round(now / 1e6);
    let all = { util: 0, cap: 0, active: 0, warm: 0, mem: 0 };
    obs.nodes?.forEach((o, i) => {
      const h = host.nodes[i];
      const c = per.get(o.id) ?? { active: 0, warm: 0 };
      const p = o.psi as PsiSet;
      series.write(`${t},${o.id},${(o.cpu_util ?? 0).toFixed(4)},${pct(p.cpu.some.avg10)},${pct(p.cpu.full?.avg10 ?? 0)},${pct(p.memory.some.avg10)},${pct(p.memory.full?.avg10 ?? 0)},${pct(p.io.some.avg10)},${pct(p.io.full?.avg10 ?? 0)},${c.active},${c.warm},${Math.round(h?.mem_used_kb ?? 0)}`);
      const cap = h?.cpu.capacity ?? 0;
      all = { util: all.util + (o.cpu_util ?? 0) * cap, cap: all.cap + cap, active: all.active + c.active, warm: all.warm + c.warm, mem: all.mem + (h?.mem_used_kb ?? 0) };
    });
    const p = obs.psi;
    series.write(`${t},all,${(all.cap ? all.util / all.cap : 0).toFixed(4)},${pct(p.cpu.some.avg10)},${pct(p.cpu.full?.avg10 ?? 0)},${pct(p.memory.some.avg10)},${pct(p.memory.full?.avg10 ?? 0)},${pct(p.io.some.avg10)},${pct(p.io.full?.avg10 ?? 0)},${all.active},${all.warm},${Math.round(all.mem)}`);
  };
  q.at(0, agent);
  q.runUntil(end_us);

  const incidents = policy.incidents?.();
  if (incidents) faults.resolve([...incidents.closed, ...incidents.open]);
  for (const h of host.nodes) h.cpu.advance(end_us);
  const capacity = host.nodes.map((h) => h.cpu.capacity * end_us);
  const summary = metrics.summary(q.processed, host.nodes.map((h) => h.cpu.busy_unit_us), capacity);
  const wallSummary = wall.summary(q.processed);
  decisions.close();
  series.close();

  if (tmp && inp.out) {
    const write = (name: string, v: unknown) => writeFileSync(join(tmp, name), JSON.stringify(v, null, 2) + '\n');
    write('run.json', { scenario: s, policy: inp.policy, seed, topology: topo.json, engine_config: config, versions: inp.versions ?? {} });
    write('metrics.json', summary);
    write('wall.json', wallSummary);
    write('faults.json', metrics.faults.map((f) => ({ kind: f.kind, target: f.target, injected_s: f.injected_us / 1e6, detected_s: f.detected_us === undefined ? null : f.detected_us / 1e6, recovered_s: f.recovered_us === undefined ? null : f.recovered_us / 1e6 })));
    mkdirSync(dirname(inp.out), { recursive: true });
    if (existsSync(inp.out)) rmSync(inp.out, { recursive: true, force: true });
    renameSync(tmp, inp.out);
  }
  return { metrics: summary, wall: wallSummary, ...(inp.out ? { dir: inp.out } : {}) };
}
