import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.ts';
import { configProblems } from '../helpers.ts';
import { FragmentGraph, graphProblems, type CallSpec } from '../../engine/graph.ts';

const sync = (profile: string, per_request = 1, bytes = 0): CallSpec => ({ profile, per_request, mode: 'sync', bytes });
const async_ = (profile: string, per_request = 1): CallSpec => ({ profile, per_request, mode: 'async', bytes: 0 });

/** A social-network-like graph: front → compose → {text, user, media}; text → user; user → cache → store. */
const social = {
  front: { calls: [sync('compose')] },
  compose: { calls: [sync('text'), sync('user'), sync('media', 0.25)] },
  text: { calls: [sync('user', 2)] },
  user: { calls: [sync('cache')] },
  media: { calls: [async_('store')] },
  cache: { calls: [sync('store', 0.1)] },
  store: { calls: [] },
};

const rejected = configProblems;

describe('FragmentGraph', () => {
  it('orders callers before callees', () => {
    const g = FragmentGraph.of(social);
    const at = (p: string) => g.order.indexOf(p);
    for (const [from, p] of Object.entries(social))
      for (const c of p.calls) expect(at(from)).toBeLessThan(at(c.profile));
    expect([...g.order].sort()).toEqual(Object.keys(social).sort());
  });

  it('flows demand down: 10 front requests/s, worked by hand', () => {
    const r = FragmentGraph.of(social).flow(new Map([['front', 10]]));
    // compose 10; text 10; user 10 (compose) + 2 × 10 (text) = 30; media 0.25 × 10 = 2.5;
    // cache 30; store 0.1 × 30 (cache) + 2.5 (media, async: demand still flows) = 5.5.
    expect(Object.fromEntries(r)).toEqual({
      front: 10,
      compose: 10,
      text: 10,
      user: 30,
      media: 2.5,
      cache: 30,
      store: 5.5,
    });
  });

  it("a profile's own rate wins when its callers imply less", () => {
    const r = FragmentGraph.of(social).flow(
      new Map([
        ['front', 1],
        ['store', 50],
      ]),
    );
    expect(r.get('store')).toBe(50);
    expect(r.get('user')).toBe(3);
  });

  it('sync dependencies are transitive, nearest first, and stop at async calls', () => {
    const g = FragmentGraph.of(social);
    expect(g.syncDependencies('front')).toEqual(['compose', 'text', 'user', 'media', 'cache', 'store']);
    expect(g.syncDependencies('media')).toEqual([]); // its only call is async
    expect(g.syncDependencies('store')).toEqual([]);
    expect(
      g
        .callers('user')
        .map((e) => e.from)
        .sort(),
    ).toEqual(['compose', 'text']);
  });

  it('an async cycle is allowed, and flow stays finite', () => {
    const g = FragmentGraph.of({ a: { calls: [sync('b')] }, b: { calls: [async_('a', 0.5)] } });
    expect(graphProblems({ a: { calls: [sync('b')] }, b: { calls: [async_('a', 0.5)] } })).toEqual([]);
    expect(Object.fromEntries(g.flow(new Map([['a', 4]])))).toEqual({ a: 4, b: 4 });
  });

  it('property: flow never lowers a rate and follows every edge', () => {
    const names = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(5), fc.nat(5), fc.double({ min: 0, max: 5, noNaN: true })), { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 6, maxLength: 6 }),
        (edges, rates) => {
          // Only edges from a lower to a higher index: a DAG, so every edge is in the order.
          const profiles = Object.fromEntries(names.map((n) => [n, { calls: [] as CallSpec[] }]));
          for (const [a, b, k] of edges)
            if (a < b) (profiles[names[a] as string] as { calls: CallSpec[] }).calls.push(sync(names[b] as string, k));
          const own = new Map(names.map((n, i) => [n, rates[i] as number]));
          const r = FragmentGraph.of(profiles).flow(own);
          for (const n of names) expect(r.get(n) as number).toBeGreaterThanOrEqual(own.get(n) as number);
          for (const [from, p] of Object.entries(profiles))
            for (const c of p.calls)
              expect(r.get(c.profile) as number).toBeGreaterThanOrEqual((r.get(from) as number) * c.per_request - 1e-9);
        },
      ),
    );
  });
});

describe('the graph in the engine config', () => {
  it('defaults: no calls, one sync call per request of 0 bytes, graph terms on', () => {
    const c = parseConfig({ profiles: { api: { calls: [{ profile: 'db' }] }, db: {} } });
    expect(c.profiles.api?.calls).toEqual([{ profile: 'db', per_request: 1, mode: 'sync', bytes: 0 }]);
    expect(c.profiles.db?.calls).toEqual([]);
    expect(c.graph.enabled).toBe(true);
  });

  it('a call to an unknown profile names the call and the profiles there are', () => {
    expect(rejected({ profiles: { api: { calls: [{ profile: 'db' }, { profile: 'cach' }] }, db: {} } })).toEqual([
      "profiles.api.calls.1.profile: 'cach' is not a configured profile (profiles: api, db)",
    ]);
  });

  it('a cycle of sync calls is an error with its path; the same cycle through async is not', () => {
    const cyc = {
      a: { calls: [{ profile: 'b' }] },
      b: { calls: [{ profile: 'c' }] },
      c: { calls: [{ profile: 'a' }] },
    };
    expect(rejected({ profiles: cyc })).toEqual([
      'profiles.a.calls: sync calls form a cycle a → b → c → a (a request would wait on itself; make one call async)',
    ]);
    expect(() => parseConfig({ profiles: { ...cyc, c: { calls: [{ profile: 'a', mode: 'async' }] } } })).not.toThrow();
    expect(rejected({ profiles: { a: { calls: [{ profile: 'a' }] } } })).toEqual([
      'profiles.a.calls: sync calls form a cycle a → a (a request would wait on itself; make one call async)',
    ]);
  });

  it('bad calls are located like every other field, beside the graph checks', () => {
    const p = rejected({
      profiles: { api: { calls: [{ profile: 'db', mode: 'sometimes', per_request: -1 }, 7] }, db: {} },
    });
    expect(p.some((x) => x.startsWith('profiles.api.calls.0.mode'))).toBe(true);
    expect(p.some((x) => x.startsWith('profiles.api.calls.0.per_request'))).toBe(true);
    expect(p.some((x) => x.startsWith('profiles.api.calls.1'))).toBe(true);
  });
});

describe('certain dependencies', () => {
  it('follow only sync calls made at least once per request', () => {
    const g = FragmentGraph.of(social);
    // compose → media is 0.25 per request, cache → store 0.1: not certain.
    expect(g.certainDependencies('front')).toEqual(['compose', 'text', 'user', 'cache']);
    expect(g.certainDependencies('cache')).toEqual([]);
  });
});
