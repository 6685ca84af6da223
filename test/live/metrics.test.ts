/**
 * The agent's Prometheus exposition: the naming conventions of the Prometheus guide and
 * node_exporter (every family once with HELP and TYPE, counters in _total, units and _ratio in the
 * names, no series twice), the PSI stall counters from node_exporter's real pressure files, the
 * request latency histogram, fgo_build_info, and the read-only metrics listener.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsListener, type MetricsListener } from '../../serve/metrics-server.ts';
import { AgentMetrics } from '../../serve/metrics.ts';
import { readPressure } from '../../live/psi.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { fedMetrics, fixtureObservation, parseExposition, type Family } from './exposition.ts';

const PKG = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };

describe('the exposition follows the Prometheus naming conventions', () => {
  let families: Map<string, Family>;
  beforeAll(async () => {
    families = parseExposition(await fedMetrics().text());
  });

  it('has every family once, with HELP and TYPE', () => {
    for (const f of families.values()) {
      expect(f.help, f.name).not.toBe('');
      expect(['counter', 'gauge', 'histogram', 'summary'], f.name).toContain(f.type);
    }
    // Default metrics are collected once, under their standard names.
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
  });

  it('ends counters, and only counters, in _total, default metrics included', () => {
    // prom-client's nodejs_active_handles_total & co. are gauges repeating the sums of
    // nodejs_active_handles{type}: removed, while the per-type gauges stay.
    for (const f of families.values())
      expect(f.name.endsWith('_total'), `${f.name} is a ${f.type}`).toBe(f.type === 'counter');
    expect(families.get('nodejs_active_handles')?.type).toBe('gauge');
  });

  it('names fgo families fgo_[a-z_]+ with _total only on counters and base units in the name', () => {
    const fgo = [...families.values()].filter((f) => f.name.startsWith('fgo_'));
    expect(fgo.map((f) => f.name).sort()).toEqual([
      'fgo_api_connections_shed_total',
      'fgo_api_requests_total',
      'fgo_build_info',
      'fgo_cold_starts_total',
      'fgo_commands_total',
      'fgo_decision_duration_seconds',
      'fgo_decisions_total',
      'fgo_enforcement_errors_total',
      'fgo_fragments_managed',
      'fgo_node_cpu_utilization_ratio',
      'fgo_node_memory_free_bytes',
      'fgo_pool_fragments',
      'fgo_pressure_ratio',
      'fgo_pressure_signal_ratio',
      'fgo_pressure_stall_seconds_total',
      'fgo_request_duration_seconds',
    ]);
    for (const f of fgo) {
      expect(f.name).toMatch(/^fgo_[a-z_]+$/);
      expect(f.name.endsWith('_total'), `${f.name} is a ${f.type}`).toBe(f.type === 'counter');
      if (f.type === 'histogram') expect(f.name).toMatch(/_seconds$/);
      // A fraction says so in its help ("0-1") and its name (_ratio); so do seconds and bytes.
      if (/\b0-1\b/.test(f.help)) expect(f.name).toMatch(/_ratio$/);
      if (/\bseconds\b/.test(f.help)) expect(f.name).toMatch(/_seconds(_total)?$/);
      if (/\bbytes\b/.test(f.help)) expect(f.name).toMatch(/_bytes$/);
    }
  });

  it('does not repeat a figure under another name: defers and sheds are decisions by action', () => {
    const d = families.get('fgo_decisions_total')!.samples;
    expect([...d]).toEqual([
      ['fgo_decisions_total{action="place"}', 1],
      ['fgo_decisions_total{action="defer"}', 1],
      ['fgo_decisions_total{action="shed"}', 1],
    ]);
    expect([...families.keys()].filter((n) => /defer|shed/.test(n))).toEqual(['fgo_api_connections_shed_total']);
  });

  it('keeps two agents in one process apart (a registry each)', async () => {
    const a = new AgentMetrics(),
      b = new AgentMetrics();
    a.apiRequest('state', 200);
    expect(
      parseExposition(await a.text())
        .get('fgo_api_requests_total')!
        .samples.get('fgo_api_requests_total{route="state",code="200"}'),
    ).toBe(1);
    expect(parseExposition(await b.text()).get('fgo_api_requests_total')!.samples.size).toBe(0);
  });
});

describe('figures', () => {
  it('exports PSI stall totals in seconds as node_exporter does, and averages as ratios', async () => {
    const m = new AgentMetrics();
    const obs = fixtureObservation();
    m.observeSample(obs);
    const f = parseExposition(await m.text());
    const stall = f.get('fgo_pressure_stall_seconds_total')!;
    expect(stall.type).toBe('counter');
    // The fixture's "total=" in µs ÷ 1e6: cpu some 14036781, io some 159886802, io full 159229614
    // (node_exporter exports the same values as node_pressure_cpu_waiting_seconds_total and
    // node_pressure_io_{waiting,stalled}_seconds_total).
    expect(stall.samples.get('fgo_pressure_stall_seconds_total{resource="cpu",line="some"}')).toBe(14.036781);
    expect(stall.samples.get('fgo_pressure_stall_seconds_total{resource="io",line="some"}')).toBe(159.886802);
    expect(stall.samples.get('fgo_pressure_stall_seconds_total{resource="io",line="full"}')).toBe(159.229614);
    expect(stall.samples.get('fgo_pressure_stall_seconds_total{resource="memory",line="full"}')).toBe(0);
    // io "some avg10=0.18" percent = 0.0018
    expect(
      f.get('fgo_pressure_ratio')!.samples.get('fgo_pressure_ratio{resource="io",line="some",window="avg10"}'),
    ).toBe(0.0018);

    // The next reading: 0.25 s more io stall; the counter shows the kernel's new total exactly.
    obs.psi.io.some = { ...obs.psi.io.some, total_us: 159886802 + 250_000 };
    delete obs.psi.cpu.full; // a kernel without the cpu full line: that series goes
    m.observeSample(obs);
    const g = parseExposition(await m.text());
    expect(
      g
        .get('fgo_pressure_stall_seconds_total')!
        .samples.get('fgo_pressure_stall_seconds_total{resource="io",line="some"}'),
    ).toBe(160.136802);
    expect(
      g
        .get('fgo_pressure_stall_seconds_total')!
        .samples.has('fgo_pressure_stall_seconds_total{resource="cpu",line="full"}'),
    ).toBe(false);
    expect(
      g.get('fgo_pressure_ratio')!.samples.has('fgo_pressure_ratio{resource="cpu",line="full",window="avg10"}'),
    ).toBe(false);
  });

  it("reads this host's /proc/pressure into counters that never fall between two samples", async () => {
    const roots = resolveRoots();
    const first = readPressure(roots);
    if (!first.available) return; // no PSI on this kernel: the fixture test above covers the arithmetic
    const m = new AgentMetrics();
    m.observeSample({ t_ms: 0, psi: first.psi });
    const before = parseExposition(await m.text()).get('fgo_pressure_stall_seconds_total')!.samples;
    const second = readPressure(roots);
    if (!second.available) throw new Error(second.reason);
    m.observeSample({ t_ms: 1, psi: second.psi });
    const after = parseExposition(await m.text()).get('fgo_pressure_stall_seconds_total')!.samples;
    expect(before.get('fgo_pressure_stall_seconds_total{resource="cpu",line="some"}')).toBe(
      first.psi.cpu.some.total_us! / 1e6,
    );
    for (const [series, v] of before) expect(after.get(series), series).toBeGreaterThanOrEqual(v);
  });

  it('histograms request durations by profile and outcome in seconds', async () => {
    const m = new AgentMetrics();
    m.observeRequest('web', true, 0.003);
    m.observeRequest('web', true, 0.2);
    m.observeRequest('web', false, 12);
    m.observeRequest('web', true, Number.NaN); // a broken clock reading is not a latency
    const h = parseExposition(await m.text()).get('fgo_request_duration_seconds')!;
    expect(h.type).toBe('histogram');
    const s = (k: string) => h.samples.get(`fgo_request_duration_seconds${k}`);
    expect(s('_count{profile="web",outcome="ok"}')).toBe(2);
    expect(s('_sum{profile="web",outcome="ok"}')).toBeCloseTo(0.203, 12);
    expect(s('_bucket{le="0.0025",profile="web",outcome="ok"}')).toBe(0);
    expect(s('_bucket{le="0.005",profile="web",outcome="ok"}')).toBe(1);
    expect(s('_bucket{le="0.25",profile="web",outcome="ok"}')).toBe(2);
    expect(s('_bucket{le="10",profile="web",outcome="error"}')).toBe(0);
    expect(s('_bucket{le="30",profile="web",outcome="error"}')).toBe(1);
    expect(s('_bucket{le="+Inf",profile="web",outcome="error"}')).toBe(1);
  });

  it('says which build it is: fgo_build_info = 1', async () => {
    const b = parseExposition(await new AgentMetrics().text()).get('fgo_build_info')!;
    expect(b.type).toBe('gauge');
    const commit = process.env.FGO_COMMIT ?? '';
    expect([...b.samples]).toEqual([
      [`fgo_build_info{version="${PKG.version}",node_version="${process.versions.node}",commit="${commit}"}`, 1],
    ]);
  });
});

describe('the read-only metrics listener (metrics_listen)', () => {
  const metrics = fedMetrics();
  let l: MetricsListener;
  beforeAll(async () => {
    l = await startMetricsListener(() => metrics, '127.0.0.1:0');
  });
  afterAll(() => l.close());

  const send = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
      const r = request(
        { host: '127.0.0.1', port: l.port, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} },
        (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (d: string) => (text += d))
            .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      r.on('error', reject);
      r.end(body);
    });

  it('serves the same exposition as the API at GET /metrics', async () => {
    const r = await send('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const f = parseExposition(r.text);
    expect(f.get('fgo_pool_fragments')!.samples.get('fgo_pool_fragments{profile="web",state="warm"}')).toBe(2);
    expect((await send('HEAD', '/metrics')).text).toBe('');
  });

  it('serves nothing else: no schedule, state, stream or dashboard, and no bodies read', async () => {
    for (const path of ['/v1/schedule', '/v1/state', '/v1/stream', '/', '/dashboard', '/healthz']) {
      expect([path, (await send('GET', path)).status]).toEqual([path, 404]);
    }
    const post = await send('POST', '/metrics', '{"profile":"web"}');
    expect([post.status, post.headers.allow, post.headers.connection]).toEqual([405, 'GET, HEAD', 'close']);
    const counted = parseExposition(await metrics.text()).get('fgo_api_requests_total')!.samples;
    expect(counted.get('fgo_api_requests_total{route="other",code="404"}')).toBe(6);
    expect(counted.get('fgo_api_requests_total{route="metrics",code="405"}')).toBe(1);
  });
});
