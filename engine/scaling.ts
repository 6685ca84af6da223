/**
 * Scaling: how big a pool should be, from a demand prediction that the shell computed (the engine
 * never runs a model). The design's rule: go to the recommended size, but do not grow while cpu
 * pressure is above medium, and shrink by one while memory pressure is above medium; the pool's
 * min and max always hold (a pool below min is refilled even under pressure — min is a promise).
 */
import type { Config } from './config.ts';
import type { PressureValues } from './admission.ts';
import type { Prediction } from './types.ts';

export type ScalingAction = 'up' | 'down' | 'none';
export type Urgency = 'none' | 'low' | 'medium' | 'high';

export interface ScalingDecision {
  profile: string;
  action: ScalingAction;
  current: number;
  target: number;
  confidence: number;
  urgency: Urgency;
  reason: string;
}

export interface PoolShape {
  profile: string;
  size: number;
  warm: number;
  min: number;
  max: number;
  /** Configured target, used when no prediction is given. */
  target: number;
}

const fmt = (x: number) => String(Math.round(x * 1000) / 1000);

export function decideScaling(pool: PoolShape, prediction: Prediction | undefined, p: PressureValues, t: Config['pressure']['thresholds']): ScalingDecision {
  const current = pool.size;
  const notes: string[] = [];
  let target = prediction ? prediction.recommended_size : pool.target;
  notes.push(prediction ? `predicted ${fmt(prediction.demand_per_s)}/s asks for ${prediction.recommended_size}` : `configured target ${pool.target}`);
  if (p.cpu > t.cpu.medium && target > current) {
    target = current;
    notes.push(`cpu pressure ${fmt(p.cpu)} > medium ${t.cpu.medium}: no growth`);
  }
  if (p.memory > t.memory.medium && target > current - 1) {
    target = current - 1;
    notes.push(`memory pressure ${fmt(p.memory)} > medium ${t.memory.medium}: shrink by one`);
  }
  const clamped = Math.min(pool.max, Math.max(pool.min, target));
  if (clamped !== target) notes.push(`held within min ${pool.min} / max ${pool.max}`);
  target = clamped;

  const diff = target - current;
  const action: ScalingAction = diff > 0 ? 'up' : diff < 0 ? 'down' : 'none';
  let urgency: Urgency = 'none';
  if (action === 'down') urgency = 'low';
  if (action === 'up') {
    // Nothing warm and work expected (or the pool below its promised minimum): every arrival now cold-starts.
    const starving = pool.warm === 0 && ((prediction?.demand_per_s ?? 0) > 0 || current < pool.min);
    urgency = starving ? 'high' : diff >= Math.max(1, current / 2) ? 'medium' : 'low';
  }
  return {
    profile: pool.profile,
    action,
    current,
    target,
    confidence: prediction ? prediction.confidence : 1,
    urgency,
    reason: `${notes.join('; ')}: ${current} → ${target}`,
  };
}
