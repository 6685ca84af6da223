/**
 * The fragment graph: which profiles call which. Profiles declare their calls
 * (`calls: [{ profile, per_request, mode, bytes }]`); this module turns them into one validated
 * graph and derives what the rest of the engine needs from it:
 *
 * - **problems**: a call to a profile that is not configured, or a cycle of sync calls (a request
 *   that waits on itself), each with its path in the config;
 * - **order**: the profiles callers-first (a topological order; async back edges, which may form
 *   cycles, are left out of it), so demand can flow down in one pass;
 * - **flow**: each profile's rate implied by its callers' rates × calls per request, in that
 *   order: the forecast of a root pre-warms its whole subtree;
 * - **sync dependencies**: every profile a request of a profile waits on, transitively, so a dead
 *   dependency can fail its callers fast with its name.
 *
 * Example: `api` calls `cache` twice and `store` once per request, both sync:
 *
 *   const g = FragmentGraph.of({ api: { calls: [{ profile: 'cache', per_request: 2, mode: 'sync', bytes: 0 },
 *     { profile: 'store', per_request: 1, mode: 'sync', bytes: 0 }] }, cache: { calls: [] }, store: { calls: [] } });
 *   g.flow(new Map([['api', 10]])).get('cache'); // 20 per second
 *   g.syncDependencies('api');                   // ['cache', 'store']
 */

export type CallMode = 'sync' | 'async';

/** One declared call, as a profile's config states it. */
export interface CallSpec {
  profile: string;
  /** Calls per request of the caller (fractional: a call made by that share of requests). */
  per_request: number;
  /** sync: the caller waits for the answer (its latency includes the call's); async: it does not. */
  mode: CallMode;
  /** Bytes carried by the call and its answer together. */
  bytes: number;
}

export interface CallEdge extends CallSpec {
  from: string;
}

/** What the graph needs of a profile's config. */
export interface Caller {
  calls: readonly CallSpec[];
}

const NONE: readonly CallEdge[] = [];

export class FragmentGraph {
  private readonly out = new Map<string, CallEdge[]>();
  private readonly into = new Map<string, CallEdge[]>();
  /** Callers first; every profile named by the config. */
  readonly order: readonly string[];
  private readonly deps = new Map<string, readonly string[]>();
  private readonly certain = new Map<string, readonly string[]>();

  private constructor(profiles: Readonly<Record<string, Caller>>) {
    for (const [from, p] of Object.entries(profiles)) {
      for (const c of p.calls) {
        const e: CallEdge = { from, ...c };
        push(this.out, from, e);
        push(this.into, c.profile, e);
      }
    }
    this.order = topologicalOrder(Object.keys(profiles).sort(), (p) => this.callees(p));
  }

  /** The graph of a set of profiles whose calls are already known to be valid (graphProblems). */
  static of(profiles: Readonly<Record<string, Caller>>): FragmentGraph {
    return new FragmentGraph(profiles);
  }

  /** True when some profile calls another. */
  get empty(): boolean {
    return this.out.size === 0;
  }

  callees(profile: string): readonly CallEdge[] {
    return this.out.get(profile) ?? NONE;
  }

  callers(profile: string): readonly CallEdge[] {
    return this.into.get(profile) ?? NONE;
  }

  /**
   * Each profile's rate once its callers' rates have flowed down: max(its own rate, Σ over its
   * callers of their rate × calls per request), callers first. Rates per second; profiles absent
   * from `own` start at 0.
   */
  flow(own: ReadonlyMap<string, number>): Map<string, number> {
    const r = new Map<string, number>();
    for (const p of this.order) {
      let inflow = 0;
      for (const e of this.callers(p)) inflow += (r.get(e.from) ?? own.get(e.from) ?? 0) * e.per_request;
      r.set(p, Math.max(own.get(p) ?? 0, inflow));
    }
    return r;
  }

  /** Every profile a request of `profile` may wait on through sync calls, nearest first (breadth-first). */
  syncDependencies(profile: string): readonly string[] {
    return cached(this.deps, profile, () => this.reach(profile, 0));
  }

  /**
   * The profiles every request of `profile` waits on: sync calls made at least once per request,
   * all the way down. A request that only sometimes calls a profile (per_request below 1) is not
   * failed for it in advance; its call is, when it is made.
   */
  certainDependencies(profile: string): readonly string[] {
    return cached(this.certain, profile, () => this.reach(profile, 1));
  }

  private reach(profile: string, min_per_request: number): string[] {
    const seen = new Set<string>([profile]);
    const out: string[] = [];
    for (let i = -1; i < out.length; i++) {
      for (const e of this.callees(i < 0 ? profile : (out[i] as string))) {
        if (e.mode !== 'sync' || e.per_request < min_per_request || seen.has(e.profile)) continue;
        seen.add(e.profile);
        out.push(e.profile);
      }
    }
    return out;
  }
}

function cached<V>(m: Map<string, V>, k: string, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) m.set(k, (v = make()));
  return v;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const xs = m.get(k);
  if (xs) xs.push(v);
  else m.set(k, [v]);
}

/** Depth-first post-order reversed: callers before callees; an edge back into the path is skipped. */
function topologicalOrder(names: readonly string[], next: (p: string) => readonly CallEdge[]): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const post: string[] = [];
  const visit = (p: string) => {
    state.set(p, 'open');
    for (const e of next(p)) if (!state.has(e.profile)) visit(e.profile);
    state.set(p, 'done');
    post.push(p);
  };
  for (const p of names) if (!state.has(p)) visit(p);
  return post.reverse();
}

/**
 * What is wrong with the profiles' calls, each problem with its path: a call to a profile that is
 * not in `profiles`, and every cycle of sync calls (once, from its first profile by name).
 * `at(name)` is where a profile sits in the config (`profiles.api`).
 */
export function graphProblems(
  profiles: Readonly<Record<string, Caller>>,
  at: (name: string) => string = (n) => `profiles.${n}`,
): string[] {
  const out: string[] = [];
  const names = Object.keys(profiles).sort();
  // A config that failed validation elsewhere may hold anything here: only well-formed calls count.
  const wellFormed = (c: unknown): c is CallSpec =>
    typeof c === 'object' && c !== null && typeof (c as CallSpec).profile === 'string';
  const callsOf = (p: string): readonly unknown[] => {
    const calls = (profiles[p] as Caller | undefined)?.calls;
    return Array.isArray(calls) ? calls : [];
  };
  for (const name of names) {
    callsOf(name).forEach((c, i) => {
      if (wellFormed(c) && !Object.hasOwn(profiles, c.profile))
        out.push(
          `${at(name)}.calls.${i}.profile: '${c.profile}' is not a configured profile (profiles: ${names.join(', ') || 'none'})`,
        );
    });
  }
  const sync = (p: string) =>
    callsOf(p).filter((c): c is CallSpec => wellFormed(c) && c.mode !== 'async' && Object.hasOwn(profiles, c.profile));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const reported = new Set<string>();
  const visit = (p: string) => {
    state.set(p, 'open');
    path.push(p);
    for (const c of sync(p)) {
      if (state.get(c.profile) === 'open') {
        const cycle = [...path.slice(path.indexOf(c.profile)), c.profile];
        const key = [...cycle.slice(0, -1)].sort().join(' ');
        if (!reported.has(key)) {
          reported.add(key);
          out.push(
            `${at(cycle[0] as string)}.calls: sync calls form a cycle ${cycle.join(' → ')} (a request would wait on itself; make one call async)`,
          );
        }
      } else if (!state.has(c.profile)) visit(c.profile);
    }
    path.pop();
    state.set(p, 'done');
  };
  for (const p of names) if (!state.has(p)) visit(p);
  return out;
}
