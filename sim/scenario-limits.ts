/**
 * Bounds on the work a scenario asks for, checked when it is parsed: a rate, a period or a
 * duration that would make a generator run for days (or for ever) is refused, with its field.
 *
 * The work of a run is the events its arrival generators produce: for Poisson-like processes
 * their highest rate times the run's length (thinning draws candidates at that rate), for a timer
 * the run's length over its period, for an on/off process also its switches. A bundled scenario
 * asks for at most about 30 million (diurnal-8n, 24 h); the limit leaves room for ten times that.
 */
import { parseDuration_s } from '../formats/duration.ts';

/** Highest arrival rate of any process, per second. */
export const MAX_RATE_PER_S = 1_000_000;
/** Shortest mean period of a timer or an on/off phase, s (1 ms): shorter, simulated time hardly moves. */
export const MIN_PERIOD_S = 0.001;
/** Most generator events (candidate arrivals, switches, timer firings) one run may ask for. */
export const MAX_GENERATED_EVENTS = 300_000_000;
/** Most profiles in a catalogue, most faults listed, largest pool size of a profile. */
export const MAX_PROFILES = 10_000;
export const MAX_FAULTS = 10_000;
export const MAX_POOL = 10_000;
/**
 * Most arrivals one demand-trace row may carry in a run: the replay holds a row's arrivals in
 * memory at once (the busiest bundled row has about 40,000).
 */
export const MAX_DEMAND_COUNT = 1_000_000;
/** Most faults a rate may inject over a run. */
export const MAX_RATE_FAULTS = 100_000;

/** What the limits read of a scenario: its fields before defaults are filled in are enough. */
interface Shape {
  duration: string | number;
  profiles: Record<string, { arrival: Arrival }>;
  functions?: { count: number; max_rate_per_s: number } | undefined;
  faults: ReadonlyArray<{ rate_per_h?: number | undefined }>;
}

type Arrival =
  | { kind: 'poisson' | 'diurnal'; rate_per_s: number; day_amplitude?: number; week_amplitude?: number }
  | { kind: 'bursty'; on_rate_per_s: number; off_rate_per_s: number; mean_on_s: number; mean_off_s: number }
  | { kind: 'piecewise'; points: ReadonlyArray<readonly [number, number]> }
  | { kind: 'periodic'; period_s: number }
  | { kind: 'none' };

/** NOISE_CAP of sim/workload.ts: the diurnal thinning envelope's factor for the hourly noise. */
const DIURNAL_NOISE_CAP = 3;

/** Generator events per second of one arrival process, as sim/workload.ts draws them. */
export function eventsPerSecond(a: Arrival): number {
  switch (a.kind) {
    case 'poisson':
      return a.rate_per_s;
    case 'diurnal':
      return a.rate_per_s * (1 + (a.day_amplitude ?? 0.5) + (a.week_amplitude ?? 0.1)) * DIURNAL_NOISE_CAP;
    case 'bursty':
      return Math.max(a.on_rate_per_s, a.off_rate_per_s) + 2 / (a.mean_on_s + a.mean_off_s);
    case 'piecewise':
      return Math.max(...a.points.map((p) => p[1]));
    case 'periodic':
      return 1 / a.period_s;
    default:
      return 0;
  }
}

/** Every bound the scenario breaks, with the path of the field to change. */
export function scenarioWorkProblems(s: Shape): Array<{ path: (string | number)[]; message: string }> {
  let duration_s: number;
  try {
    duration_s = parseDuration_s(s.duration);
  } catch {
    return []; // the duration's own problem is reported by its schema
  }
  const problems: Array<{ path: (string | number)[]; message: string }> = [];
  let events = 0;
  for (const p of Object.values(s.profiles)) events += eventsPerSecond(p.arrival) * duration_s;
  if (s.functions) events += s.functions.count * s.functions.max_rate_per_s * duration_s;
  if (events > MAX_GENERATED_EVENTS) {
    problems.push({
      path: ['duration'],
      message: `the arrival processes would generate about ${events.toExponential(2)} events over ${s.duration}, over the limit of ${MAX_GENERATED_EVENTS.toExponential(0)}: lower the rates or the duration`,
    });
  }
  s.faults.forEach((f, i) => {
    if (f.rate_per_h !== undefined && (f.rate_per_h * duration_s) / 3600 > MAX_RATE_FAULTS) {
      problems.push({
        path: ['faults', i, 'rate_per_h'],
        message: `${f.rate_per_h} per hour over ${s.duration} is about ${Math.round((f.rate_per_h * duration_s) / 3600)} faults, over the limit of ${MAX_RATE_FAULTS}`,
      });
    }
  });
  return problems;
}
