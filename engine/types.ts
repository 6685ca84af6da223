/**
 * The engine's vocabulary: what the shells (sim/, live/) hand in and what they get back.
 * Everything here is plain JSON-serialisable data so a decision stream can be journalled,
 * diffed byte for byte and replayed.
 */

export const RESOURCES = ['cpu', 'memory', 'io'] as const;
export type Resource = (typeof RESOURCES)[number];

/** One PSI line (`some` or `full`) as fractions 0–1; `total_us` is the kernel's cumulative stall time. */
export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  total_us?: number;
}

/** One resource's pressure file. `full` is absent for system cpu on older kernels. */
export interface PsiReading {
  some: PsiLine;
  full?: PsiLine;
}

export type PsiSet = Record<Resource, PsiReading>;

/** What a shell measured about one NUMA node at observation time. */
export interface NodeObservation {
  id: number;
  /** Busy share of the node's CPUs, 0–1. */
  cpu_util?: number;
  /** Free memory on the node as the kernel reports it (MemFree of the node meminfo file). */
  mem_free_kb?: number;
  /** Per-node pressure where the shell can tell it (the twin always can; a host through cgroups). */
  psi?: PsiSet;
}

/** What a shell knows of one fragment's health at observation time. */
export interface FragmentObservation {
  id: string;
  /** Time of the last heartbeat the shell received. */
  heartbeat_ms?: number;
  /** The process is gone (crashed or killed). */
  exited?: boolean;
  rss_kb?: number;
}

/** The world as a shell sees it at one instant. Time only ever comes in through here. */
export interface Observation {
  t_ms: number;
  psi: PsiSet;
  nodes?: NodeObservation[];
  /** CPUs online now; a CPU of the topology missing here is offline. Absent: all online. */
  online_cpus?: number[];
  fragments?: FragmentObservation[];
}

export const PRIORITY = { low: 0, normal: 1, high: 2, critical: 3 } as const;
export type Priority = 0 | 1 | 2 | 3;

/** A request to run one unit of work of a profile. */
export interface Request {
  id: string;
  profile: string;
  /** CPU demand in cores (may be fractional for shared CPUs). */
  cpus: number;
  memory_kb: number;
  priority: Priority;
  io_intensive?: boolean;
  /** Node where the request's memory already lives (e.g. its data), for the locality score. */
  memory_home?: number;
  /** Whole CPUs reserved for this request alone (Kubernetes static CPU manager style). */
  exclusive_cpus?: number;
  /** Restrict placement to these nodes (intersected with the topology's allowed nodes). */
  allowed_nodes?: number[];
  /** A call from another fragment (the fragment graph): the calling fragment's id. */
  caller?: string;
}

export type Level = 'none' | 'low' | 'medium' | 'high' | 'critical';
export type Trend = 'rising' | 'falling' | 'steady';

export interface ResourcePressure {
  /** The signal decisions use: Δtotal/Δt over the last tick when available, else some avg10. */
  value: number;
  level: Level;
  trend: Trend;
  /** Change of `value` per second, from a least-squares fit over the recent history. */
  velocity_per_s: number;
  /** `value` extrapolated `horizon_s` ahead, clamped to 0–1. */
  predicted: number;
}

export type PressureView = Record<Resource, ResourcePressure>;

/** Why a node scored as it did; every term is recorded so a decision explains itself. */
export interface NodeScore {
  node: number;
  eligible: boolean;
  /** Why the node was excluded, when it was. */
  excluded?: string;
  resource: number;
  locality: number;
  affinity: number;
  balance: number;
  /** Multiplier from node pressure, 0.7–1. */
  pressure_factor: number;
  total: number;
  /** Expected latency of the request on this node, ms (engine/latency.ts): what a request's node is chosen by. */
  expected_ms?: number;
  /** The fragment graph's communication term within expected_ms (engine/communication.ts), ms; absent when no call is priced. */
  calls_ms?: number;
}

export type Action = 'place' | 'defer' | 'shed' | 'reject';

export interface Decision {
  seq: number;
  t_ms: number;
  request_id: string;
  profile: string;
  action: Action;
  /** For `place`: whether a warm fragment served it or one is cold-started. */
  start?: 'warm' | 'cold';
  node?: number;
  cpus?: number[];
  exclusive?: boolean;
  fragment?: string;
  /** Traffic shaping: admit, but start after this delay. */
  delay_ms?: number;
  /** For `defer` and `shed`: when to try again. */
  retry_after_ms?: number;
  reason: string;
  confidence: number;
  pressure: PressureView;
  scores: NodeScore[];
  inputs_digest: string;
  commands: Command[];
}

/** Commands a shell carries out. The engine never acts itself. */
export type Command =
  | {
      type: 'start';
      fragment: string;
      profile: string;
      node: number;
      cpus: number[];
      memory_kb: number;
      reason: string;
    }
  | { type: 'stop'; fragment: string; reason: string }
  | { type: 'pin'; fragment: string; node: number; cpus: number[]; reason: string }
  | {
      type: 'restart';
      fragment: string;
      reason: string;
      timeout_ms: number;
      /** What the new process is started as and where: the executor needs nothing else (not recorded: engine/record.ts). */
      profile: string;
      node: number;
      cpus: number[];
    }
  | { type: 'drain'; fragment: string; reason: string; timeout_ms: number }
  | { type: 'undrain'; fragment: string; reason: string }
  | { type: 'migrate'; fragment: string; from: number; to: number; cpus: number[]; reason: string }
  | { type: 'retry'; request: Request; reason: string }
  | { type: 'shed'; request_id: string; reason: string }
  | { type: 'alert'; subject: string; reason: string };

/** A demand forecast for one profile, computed by the shell (ONNX model or fallback). */
export interface Prediction {
  profile: string;
  /** Expected arrivals per second over the horizon. */
  demand_per_s: number;
  /**
   * The forecast's 90th percentile, arrivals per second, when the predictor gives one (the ONNX
   * model does; the EWMA does not): pools are sized from it, since a pool sized to the median
   * runs short in half the intervals.
   */
  demand_p90_per_s?: number;
  recommended_size: number;
  confidence: number;
}

export interface Outcome {
  ok: boolean;
  latency_ms: number;
  /** Failed because a call to this profile failed: not the fragment's own fault (engine/cascade.ts). */
  dependency?: string;
}
