/**
 * The twin's agent loop, run as the live agent runs it: every agent interval, sample the host and
 * tick the policy; once per scaling cycle, close the demand tracker's interval and ask the demand
 * predictor (predict/predictor.ts) for every profile in one batch. A predictor may be async (an
 * ONNX model is), so the event queue runs in chunks up to each scaling boundary, the forecast is
 * awaited there, and the agent tick at that instant hands the resulting predictions to the policy.
 * Nothing else waits on the predictor, so a run is the same however long the model takes.
 */
import type { Config, Decision, Observation, Prediction, PsiSet } from '../engine/index.ts';
import {
  DemandTracker,
  EwmaDemandPredictor,
  toPredictions,
  type DemandPredictor,
  type ProfileShape,
} from '../predict/predictor.ts';
import type { Status } from '../engine/status.ts';
import type { EventQueue } from './events.ts';
import type { Host } from './host.ts';
import type { Scenario } from './scenario.ts';
import type { Shell } from './shell.ts';

/** Confidence the twin gives its predictions (shown with each scaling decision). */
const CONFIDENCE = 0.5;
/** Pool size over the Little's-law concurrency the forecast implies. */
export const DEFAULT_HEADROOM = 2;

/**
 * The scaling cycle as the agent loop sees it: the engine's scaling interval rounded up to whole
 * agent intervals (a cycle starts at the first agent tick at or after the previous one + the
 * scaling interval).
 */
export function scalingCycle_us(config: Config, agent_us: number): number {
  return Math.ceil((config.scaling.interval_ms * 1000) / agent_us) * agent_us;
}

/**
 * The twin's default predictor: an EWMA (α 0.5) of each profile's arrivals per scaling cycle,
 * forecasting one cycle ahead, over the whole run's history — the same arithmetic as the shell-side
 * EWMA the twin used before the predictor port (weights 2^-k of every past cycle).
 */
export function defaultPredictor(cycle_us: number, end_us: number): EwmaDemandPredictor {
  return new EwmaDemandPredictor(cycle_us / 1e6, 0.5, Math.ceil(end_us / cycle_us) + 1);
}

/** Arrivals in, the engine's predictions out, once per scaling cycle. */
export class ScalingForecasts {
  private readonly tracker: DemandTracker;

  /** `record`: told every cycle's predictions, as the run directory's forecasts.csv keeps them. */
  constructor(
    readonly predictor: DemandPredictor,
    private readonly shapes: ReadonlyMap<string, ProfileShape>,
    readonly headroom: number,
    cycle_us: number,
    private readonly record?: (t_us: number, predictions: readonly Prediction[]) => void,
  ) {
    this.tracker = new DemandTracker(cycle_us / 1e6, predictor.history_len);
    for (const name of shapes.keys()) this.tracker.profile(name);
  }

  /** An arrival at t_us; one at a cycle boundary counts in the cycle it opens. */
  arrival(profile: string, t_us: number): void {
    this.tracker.arrival(profile, t_us / 1e6);
  }

  /** Close the cycles ending at or before t_us and forecast the next one for every profile seen. */
  async at(t_us: number): Promise<Prediction[]> {
    const forecasts = await this.predictor.forecast(this.tracker.histories(t_us / 1e6));
    const predictions = toPredictions(forecasts, this.shapes, this.headroom, CONFIDENCE).sort((a, b) =>
      a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : 0,
    );
    this.record?.(t_us, predictions);
    return predictions;
  }
}

/**
 * Someone watching a run as it happens (`fgo sim --serve`): every decision, the observation of
 * every agent tick, and a pause at each scaling boundary (to pace the run to the wall clock).
 * Watching changes nothing simulated.
 */
export interface RunWatcher {
  decision?(d: Decision): void;
  sample?(t_ms: number, obs: Observation): void;
  boundary?(t_us: number): Promise<void>;
  /** Called once before the run when the policy is the engine: how to read its status (engine/status.ts). */
  engine?(status: () => Status): void;
}

export interface LoopInputs {
  q: EventQueue;
  shell: Shell;
  host: Host;
  scenario: Scenario;
  config: Config;
  end_us: number;
  forecasts: ScalingForecasts;
  /** One timeseries.csv row; none when the run writes no files (the rows are then not even built). */
  series?: (line: string) => void;
  progress?: (fraction: number) => void;
  watch?: RunWatcher;
}

const pct = (x: number) => (Math.round(x * 10000) / 100).toFixed(2);

/** Run the whole simulation: the agent loop from t = 0 to the end, the event queue in between. */
export async function runAgentLoop(o: LoopInputs): Promise<void> {
  const { q, shell, host, scenario: s, config, end_us, forecasts } = o;
  const agent_us = s.agent_interval_s * 1e6;
  const series_every_us = s.timeseries_interval_s * 1e6;
  let nextScale_us = 0;
  let nextSeries_us = 0;
  /** The forecast awaited for the scaling tick at t_us. */
  let ready: { t_us: number; predictions: Prediction[] } | undefined;

  const agent = () => {
    const now = q.now_us;
    let preds: Prediction[] | undefined;
    if (now >= nextScale_us) {
      nextScale_us = now + config.scaling.interval_ms * 1000;
      if (ready?.t_us !== now)
        throw new Error(`internal: scaling tick at ${now} µs without its forecast (have ${ready?.t_us})`);
      preds = ready.predictions;
    }
    shell.tick(preds);
    if (o.watch?.sample) o.watch.sample(now / 1000, shell.obs());
    if (o.series && now >= nextSeries_us) {
      nextSeries_us = now + series_every_us;
      writeSeries(now);
    }
    o.progress?.(now / end_us);
    if (now + agent_us <= end_us) q.after(agent_us, agent);
  };

  const writeSeries = (now: number) => {
    const write = o.series as (line: string) => void;
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
    obs.nodes?.forEach((n, i) => {
      const h = host.nodes[i];
      const c = per.get(n.id) ?? { active: 0, warm: 0 };
      const p = n.psi as PsiSet;
      write(
        `${t},${n.id},${(n.cpu_util ?? 0).toFixed(4)},${pct(p.cpu.some.avg10)},${pct(p.cpu.full?.avg10 ?? 0)},${pct(p.memory.some.avg10)},${pct(p.memory.full?.avg10 ?? 0)},${pct(p.io.some.avg10)},${pct(p.io.full?.avg10 ?? 0)},${c.active},${c.warm},${Math.round(h?.mem_used_kb ?? 0)}`,
      );
      const cap = h?.cpu.capacity ?? 0;
      all = {
        util: all.util + (n.cpu_util ?? 0) * cap,
        cap: all.cap + cap,
        active: all.active + c.active,
        warm: all.warm + c.warm,
        mem: all.mem + (h?.mem_used_kb ?? 0),
      };
    });
    const p = obs.psi;
    write(
      `${t},all,${(all.cap ? all.util / all.cap : 0).toFixed(4)},${pct(p.cpu.some.avg10)},${pct(p.cpu.full?.avg10 ?? 0)},${pct(p.memory.some.avg10)},${pct(p.memory.full?.avg10 ?? 0)},${pct(p.io.some.avg10)},${pct(p.io.full?.avg10 ?? 0)},${all.active},${all.warm},${Math.round(all.mem)}`,
    );
  };

  q.at(0, agent);
  // Scaling ticks fall on agent ticks (whole multiples of agent_us, all times integer µs): run every
  // event before a boundary, await the forecast from the arrivals so far, then run on to the next.
  let boundary_us = 0;
  for (;;) {
    ready = { t_us: boundary_us, predictions: await forecasts.at(boundary_us) };
    if (o.watch?.boundary) await o.watch.boundary(boundary_us);
    const next_us = Math.ceil((boundary_us + config.scaling.interval_ms * 1000) / agent_us) * agent_us;
    if (next_us > end_us) break;
    q.runUntil(next_us - 1);
    boundary_us = next_us;
  }
  q.runUntil(end_us);
}
