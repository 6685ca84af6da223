/**
 * What a PSI trigger is (kernel Documentation/accounting/psi.rst, "Monitoring for pressure
 * thresholds"): a resource, a line, a stall time within a window, written as "<some|full> <stall µs>
 * <window µs>"; the rules the kernel applies to it, checked here before anything is opened (window
 * 500 ms – 10 s, WINDOW_MIN_US / WINDOW_MAX_US in kernel/sched/psi.c; 0 < stall ≤ window; without
 * CAP_SYS_RESOURCE, Linux 6.5+, the window must be a multiple of 2 s); and the error every trigger
 * failure is reported as, telling the caller whether to fall back to sampling.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type TriggerResource = 'cpu' | 'memory' | 'io';
export type TriggerLine = 'some' | 'full';

export const TRIGGER_RESOURCES: readonly TriggerResource[] = ['cpu', 'memory', 'io'];
/** kernel/sched/psi.c WINDOW_MIN_US / WINDOW_MAX_US. */
export const WINDOW_MIN_US = 500_000;
export const WINDOW_MAX_US = 10_000_000;
/** Without CAP_SYS_RESOURCE the window must be a multiple of this (psi.rst, Linux 6.5+). */
export const UNPRIVILEGED_WINDOW_STEP_US = 2_000_000;

export interface TriggerSpec {
  resource: TriggerResource;
  line: TriggerLine;
  stall_us: number;
  window_us: number;
}

export interface PsiTriggerEvent {
  /** ms since the trigger was armed (performance.now based). */
  t_ms: number;
  resource: TriggerResource;
  line: TriggerLine;
  /** 1 for the first event of this trigger, 2 for the second, … */
  seq: number;
}

export interface TriggerOptions {
  /**
   * Timeout of each poll() on the worker thread, ms (default 1000). Bounds how long a lost wake-up
   * could delay close().
   */
  pollTimeoutMs?: number;
  /**
   * Drop POLLPRI events that arrive within this many ms of arming (counted in `dropped`). Default 0.
   * Observed on Linux 6.18 without CAP_SYS_RESOURCE: an avgs-aggregated trigger fires at the first
   * two 2 s aggregation ticks whatever the threshold (its window starts from the rtpoll total, not
   * the avgs one, in psi_trigger_create), then behaves. `2 * window_ms + 2000` hides those.
   */
  settleMs?: number;
  onEvent?: (e: PsiTriggerEvent) => void;
  /** Called once when the loop stops on an error (POLLERR: trigger gone; poll failure). */
  onError?: (e: TriggerError) => void;
}

export class TriggerError extends Error {
  /** errno name ('EINVAL', 'EPERM', …), or 'EGONE' (POLLERR), 'EUNKNOWN'. */
  readonly code: string;
  /** True when triggers cannot be used here at all: the caller should fall back to sampling. */
  readonly unavailable: boolean;
  readonly file: string | undefined;
  constructor(message: string, opts: { code: string; unavailable?: boolean; file?: string }) {
    super(message);
    this.name = 'TriggerError';
    this.code = opts.code;
    this.unavailable = opts.unavailable ?? false;
    this.file = opts.file;
  }
}

/** The trigger string the kernel parses ("some 150000 1000000"). */
export function triggerString(spec: TriggerSpec): string {
  return `${spec.line} ${spec.stall_us} ${spec.window_us}`;
}

/** Throws RangeError / TypeError naming the bad argument; returns the spec otherwise. */
export function validateTrigger(spec: TriggerSpec): TriggerSpec {
  if (!TRIGGER_RESOURCES.includes(spec.resource)) {
    throw new TypeError(
      `PSI trigger resource '${String(spec.resource)}' is not one of ${TRIGGER_RESOURCES.join(', ')}`,
    );
  }
  if (spec.line !== 'some' && spec.line !== 'full') {
    throw new TypeError(`PSI trigger line '${String(spec.line)}' is not 'some' or 'full'`);
  }
  if (!Number.isSafeInteger(spec.window_us))
    throw new RangeError(`PSI trigger window ${String(spec.window_us)} µs is not an integer`);
  if (spec.window_us < WINDOW_MIN_US || spec.window_us > WINDOW_MAX_US) {
    throw new RangeError(
      `PSI trigger window ${spec.window_us} µs is out of range: ` +
        `the kernel accepts ${WINDOW_MIN_US}–${WINDOW_MAX_US} µs (500 ms – 10 s)`,
    );
  }
  if (!Number.isSafeInteger(spec.stall_us))
    throw new RangeError(`PSI trigger stall ${String(spec.stall_us)} µs is not an integer`);
  if (spec.stall_us <= 0) throw new RangeError(`PSI trigger stall ${spec.stall_us} µs must be positive`);
  if (spec.stall_us > spec.window_us) {
    throw new RangeError(
      `PSI trigger stall ${spec.stall_us} µs exceeds its window ${spec.window_us} µs (stall must be ≤ window)`,
    );
  }
  return spec;
}

/** CAP_SYS_RESOURCE in this process's effective set (from <proc>/self/status); false when unreadable. */
export function hasCapSysResource(procRoot = '/proc'): boolean {
  try {
    const hex = readFileSync(join(procRoot, 'self/status'), 'utf8').match(/^CapEff:\s*([0-9a-f]+)$/m)?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> 24n) & 1n) === 1n; // CAP_SYS_RESOURCE = 24
  } catch {
    return false;
  }
}
