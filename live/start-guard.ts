/**
 * Pool mode's guard against worker commands that cannot start (a missing program, one that exits
 * at once, one that dies before or soon after its ready line). Without it every exit is answered
 * by the engine with a restart or a replacement at once, and a command like `/bin/false` turns
 * into thousands of spawns a second. Per profile:
 *
 * - backoff: after the k-th consecutive start failure no start of that profile begins for
 *   min(max_ms, initial_ms · 2^(k-1)) · j, where j ∈ (0.8, 1] is a deterministic jitter drawn from
 *   the profile name and k (profiles failing together do not retry in lockstep; a run is
 *   reproducible; the delay never exceeds max_ms);
 * - while failures are outstanding, one start at a time (a trial), never a burst;
 * - circuit breaker: `open_after` consecutive failures open it. Open, the profile's requests are
 *   answered at once as unavailable with a retry-after (the API's 503 + Retry-After) rather than
 *   held while nothing can serve them. When the backoff has run out it is half-open: one trial
 *   start; its ready line closes the breaker, its failure opens it again for the next, longer delay.
 *
 * A worker that reaches ready closes the breaker at once, but the failure count (which sets the
 * next delay) is only forgotten after a worker has stayed up `stable_ms`: a command that says
 * ready and dies straight after still backs off ever longer and still opens the breaker.
 *
 * Pure bookkeeping on a clock given to it: pool-mode.ts launches, times and logs.
 */

export interface StartGuardConfig {
  /** Delay after the first failure, ms. */
  initial_ms: number;
  /** Longest delay, ms. */
  max_ms: number;
  /** Consecutive failures that open the breaker. */
  open_after: number;
  /** A worker ready this long proves the command works: the failure count is forgotten. */
  stable_ms: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

interface ProfileGuard {
  failures: number;
  /** No start before this (agent clock, ms). */
  until_ms: number;
  /** A start is in flight while failures are outstanding. */
  trial: boolean;
  /** A worker became ready since the last failure. */
  recovered: boolean;
  last_reason: string;
}

/** What a failure did: the delay before the next start, and whether it opened the breaker just now. */
export interface FailureOutcome {
  failures: number;
  delay_ms: number;
  opened: boolean;
  state: BreakerState;
}

export class StartGuard {
  private readonly guards = new Map<string, ProfileGuard>();

  constructor(
    readonly cfg: StartGuardConfig,
    private readonly now_ms: () => number,
  ) {}

  private get(profile: string): ProfileGuard {
    let g = this.guards.get(profile);
    if (!g)
      this.guards.set(profile, (g = { failures: 0, until_ms: 0, trial: false, recovered: true, last_reason: '' }));
    return g;
  }

  state(profile: string): BreakerState {
    const g = this.guards.get(profile);
    if (!g || g.recovered || g.failures < this.cfg.open_after) return 'closed';
    return this.now_ms() < g.until_ms ? 'open' : 'half-open';
  }

  /** Requests of `profile` are refused (open or half-open: nothing proves a worker can start). */
  refusing(profile: string): boolean {
    return this.state(profile) !== 'closed';
  }

  /** Seconds a refused client should wait: until the trial start may begin, at least 1. */
  retryAfter_s(profile: string): number {
    const g = this.guards.get(profile);
    return Math.max(1, Math.ceil(((g?.until_ms ?? 0) - this.now_ms()) / 1000));
  }

  lastReason(profile: string): string {
    return this.guards.get(profile)?.last_reason ?? '';
  }

  failures(profile: string): number {
    return this.guards.get(profile)?.failures ?? 0;
  }

  /** ms until a start of `profile` may begin (0: now); undefined while a trial start is in flight. */
  wait_ms(profile: string): number | undefined {
    const g = this.guards.get(profile);
    if (!g) return 0;
    if (g.trial && !g.recovered) return undefined;
    return Math.max(0, g.until_ms - this.now_ms());
  }

  /** A start of `profile` was launched. */
  began(profile: string): void {
    const g = this.get(profile);
    if (g.failures > 0 && !g.recovered) g.trial = true;
  }

  /** A worker of `profile` printed its ready line. */
  ready(profile: string): void {
    const g = this.get(profile);
    g.trial = false;
    g.recovered = true;
  }

  /** A worker of `profile` has been ready for `ready_ms`: past stable_ms the failures are forgotten. */
  running(profile: string, ready_ms: number): void {
    const g = this.guards.get(profile);
    if (g?.recovered && ready_ms >= this.cfg.stable_ms) {
      g.failures = 0;
      g.until_ms = 0;
    }
  }

  /** A start failed (the process never became ready, or died within stable_ms of it). */
  failed(profile: string, reason: string): FailureOutcome {
    const g = this.get(profile);
    const wasOpen = this.state(profile) !== 'closed';
    g.failures++;
    g.trial = false;
    g.recovered = false;
    g.last_reason = reason;
    const delay_ms = backoff_ms(this.cfg, profile, g.failures);
    g.until_ms = this.now_ms() + delay_ms;
    const state = this.state(profile);
    return { failures: g.failures, delay_ms, opened: !wasOpen && state !== 'closed', state };
  }
}

/** min(max, initial · 2^(k-1)) scaled by a jitter in (0.8, 1] drawn from (profile, k). */
export function backoff_ms(cfg: Pick<StartGuardConfig, 'initial_ms' | 'max_ms'>, profile: string, k: number): number {
  const base = Math.min(cfg.max_ms, cfg.initial_ms * 2 ** Math.min(k - 1, 52));
  return Math.round(base * (1 - 0.2 * fraction(`${profile}#${k}`)));
}

/** FNV-1a of the text as a fraction in [0, 1). */
function fraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}
