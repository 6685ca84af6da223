/**
 * What the twin tracks of a request and of a fragment (a simulated process), and the two rules the
 * shell and the fragment graph (sim/calls.ts) share about them: the memory a running request adds,
 * and how a task is made. Apart from shell.ts so that calls.ts can name them without importing it.
 */
import type { Request } from '../engine/index.ts';
import type { Task } from './host.ts';
import type { SimProfile } from './scenario.ts';

export interface SimRequest {
  req: Request;
  arrival_us: number;
  cpu_ms: number;
  io_ms: number;
  mem_kb: number;
  home: number | undefined;
  profile: SimProfile;
  deferred: boolean;
  cold: boolean;
  /** Times it began on a fragment: an answer to a call made by an earlier attempt is ignored. */
  attempt: number;
  /** Sync calls not yet answered. */
  pending: number;
  /** Completed, shed or failed. */
  done: boolean;
  /** The fragment serving it, once placed. */
  frag?: SimFragment;
  /** For a call (sim/calls.ts): who made it, in which attempt, whether it waits, what it carries. */
  call?: { parent: SimRequest; attempt: number; sync: boolean; bytes: number; from_node: number };
}

export interface SimFragment {
  id: string;
  profile: string;
  node: number;
  state: 'starting' | 'ready' | 'dead';
  /** Bumped on every (re)start or move, so a stale "ready" event is ignored. */
  epoch: number;
  mem_kb: number;
  request: SimRequest | undefined;
  task: Task | undefined;
  /** Where its task is: CPU, I/O, waiting for its sync calls' answers, or nowhere (waiting to begin, or hung). */
  phase: 'cpu' | 'io' | 'calls' | 'idle';
  started_us: number;
  idle_since_us: number;
  // Faults.
  hung_since_us: number | undefined;
  slow: number;
  leak_kb_per_s: number;
  leaked_kb: number;
}

/**
 * Memory a running request adds to its fragment's: a fragment holds max(its own, the request's
 * working set), as the engine books it (placement.ts memoryNeed_kb) — one rule for both.
 */
export const extraMem_kb = (f: SimFragment, sr: SimRequest) => Math.max(0, sr.mem_kb - f.mem_kb);

/**
 * A task, its completion passed in: a function written as an object's `done:` property would be
 * renamed by tsx's keepNames on every request (an Object.defineProperty each), an argument is not.
 */
export function task(work_us: number, weight: number, done: () => void): Task {
  return { work_us, weight, finish_v: 0, heap_i: -1, done };
}

/** A fragment as its start command leaves it: starting, on `node`, holding its profile's memory, sound. */
export function newFragment(id: string, profile: string, node: number, mem_kb: number, now_us: number): SimFragment {
  return {
    id,
    profile,
    node,
    state: 'starting',
    epoch: 0,
    mem_kb,
    request: undefined,
    task: undefined,
    phase: 'idle',
    started_us: now_us,
    idle_since_us: now_us,
    hung_since_us: undefined,
    slow: 1,
    leak_kb_per_s: 0,
    leaked_kb: 0,
  };
}
