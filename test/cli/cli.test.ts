/**
 * The command line end to end: the real `bin/fgo.mjs` in a child process, as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fgoSync, ROOT } from './fgo.ts';
import { tmpFile } from '../helpers.ts';

const FIX = join(ROOT, 'test/fixtures');

const fgo = (...args: string[]) => fgoSync(args);

describe('fgo', () => {
  it('--help lists the commands and exits 0', () => {
    const r = fgo('--help');
    expect(r.code).toBe(0);
    for (const c of ['version', 'config', 'decide', 'demo']) expect(r.out).toContain(c);
  });

  it('version prints the package version, and JSON with --json', () => {
    const pkg = JSON.parse(spawnSync('cat', [join(ROOT, 'package.json')], { encoding: 'utf8' }).stdout) as {
      version: string;
    };
    expect(fgo('version').out).toContain(`fgo ${pkg.version}`);
    expect(JSON.parse(fgo('version', '--json').out)).toMatchObject({ fgo: pkg.version });
  });

  it('an unknown command or a missing option is a usage error (exit 2)', () => {
    expect(fgo('frobnicate').code).toBe(2);
    const r = fgo('decide', '--topology', '2n-32c');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--observation');
  });
});

describe('npx fgo', () => {
  it('prints what fgo prints and nothing of npm\'s (no "Unknown project config" warning from .npmrc)', () => {
    const r = spawnSync('npm', ['exec', '--no', '--', 'fgo', 'version'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fgo \d+\.\d+\.\d+ \(node /);
    expect(r.stderr).not.toMatch(/npm warn/i);
  });
});

describe('fgo config check', () => {
  it('accepts {} (the design defaults) and prints the effective config with --print', () => {
    const f = tmpFile('c.json', '{}');
    expect(fgo('config', 'check', f)).toMatchObject({ code: 0 });
    const cfg = JSON.parse(fgo('config', 'check', f, '--print').out);
    expect(cfg.pressure.thresholds.memory).toEqual({ low: 0.2, medium: 0.5, high: 0.7, critical: 0.85 });
  });

  it('lists every problem with file:line:col and exits 1', () => {
    const r = fgo('config', 'check', join(FIX, 'bad-config.json'));
    expect(r.code).toBe(1);
    const lines = r.err.trim().split('\n');
    const f = join(FIX, 'bad-config.json').replace(ROOT, '');
    // Each problem points at the line of the offending value in bad-config.json.
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`${f}:4:\\d+: pressure\\.thresholds\\.cpu\\.high: Too big`)),
        expect.stringMatching(new RegExp(`${f}:7:\\d+: pressure\\.signal: Invalid option`)),
        expect.stringMatching(new RegExp(`${f}:10:\\d+: colour: unknown key`)),
        expect.stringMatching(new RegExp(`${f}:5:\\d+: pressure\\.thresholds\\.memory: must rise strictly`)),
        expect.stringMatching(new RegExp(`${f}:9:\\d+: placement\\.weights: must sum to 1 \\(got 1\\.1\\)`)),
      ]),
    );
  });

  it('--json reports problems as data', () => {
    const r = fgo('config', 'check', join(FIX, 'bad-config.json'), '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.problems.length).toBeGreaterThanOrEqual(5);
  });

  it('a JSON syntax error names the line and column', () => {
    const f = tmpFile('c.json', '{\n  "pressure": {\n    "signal": "avg10",\n  }\n}\n');
    const r = fgo('config', 'check', f);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/c\.json:4:\d+: invalid JSON/);
  });

  it('checks every kind fgo reads: the live configs and bundled scenarios it ships, told apart by their keys', () => {
    for (const [f, kind] of [
      ['live/examples/pool.json', 'live'],
      ['live/examples/adopt.json', 'live'],
      ['sim/scenarios/graph-4n.json', 'scenario'],
      ['sim/scenarios/default.json', 'scenario'],
    ] as const) {
      const r = fgo('config', 'check', join(ROOT, f), '--json');
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ ok: true, kind });
    }
  });

  it('a bad live config or scenario is located like an engine config; --kind overrides the guess', () => {
    const live = tmpFile('live.json', '{\n  "mode": "pool",\n  "colour": 1\n}\n');
    const r = fgo('config', 'check', live);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/live\.json:3:\d+: colour: unknown key/);
    const scen = tmpFile(
      's.json',
      '{\n  "name": "s",\n  "profiles": { "a": { "calls": [{ "profile": "nope" }] } }\n}\n',
    );
    const s = fgo('config', 'check', scen);
    expect(s.code).toBe(1);
    expect(s.err).toMatch(/s\.json:3:\d+: profiles\.a\.calls\.0\.profile: 'nope' is not a configured profile/);
    // Named as an engine config, the same scenario is all unknown keys.
    expect(fgo('config', 'check', scen, '--kind', 'engine').err).toMatch(/name: unknown key/);
  });

  it('a missing file is a clear error', () => {
    const r = fgo('config', 'check', '/nonexistent/fgo.json');
    expect(r.code).toBe(1);
    expect(r.err).toContain('/nonexistent/fgo.json: cannot read: ENOENT');
  });
});

describe('fgo decide', () => {
  it('takes --json, as scripts pass it to every command: the same JSON', () => {
    const args = [
      'decide',
      '--topology',
      '2n-32c',
      '--observation',
      join(FIX, 'observation.json'),
      '--request',
      join(FIX, 'request.json'),
    ];
    const plain = fgo(...args),
      json = fgo(...args, '--json');
    expect(json.code, json.err).toBe(0);
    expect(json.out).toBe(plain.out);
  });

  it('an unknown topology preset is a usage error, exit 2, as in sim', () => {
    const r = fgo(
      'decide',
      '--topology',
      '2n-23c',
      '--observation',
      join(FIX, 'observation.json'),
      '--request',
      join(FIX, 'request.json'),
    );
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/topology '2n-23c': neither a preset .* \(did you mean '2n-32c'\?\)/);
  });

  it('prints one decision with its full explanation; scores match the hand-computed formula', () => {
    const r = fgo(
      'decide',
      '--topology',
      '2n-32c',
      '--observation',
      join(FIX, 'observation.json'),
      '--request',
      join(FIX, 'request.json'),
    );
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out);
    // 2n-32c: 16 CPUs and 64 GiB = 67108864 kB per node, SLIT 10/21. Request: 1 CPU, 512 MiB, home node 0.
    // Node 0: cpu avail 1 − 0.7 = 0.3; mem avail 20000000/67108864 = 0.298023
    //   resource = 0.6×0.3 + 0.4×0.298023 = 0.299209; locality 10/10 = 1; affinity 0; balance 1
    //   pressure factor = 1 − (0.5 + 0.1)/2 × 0.3 = 0.91
    //   total = (0.4×0.299209 + 0.3×1 + 0 + 0.1×1) × 0.91 = 0.519684 × 0.91 = 0.472912
    // Node 1: cpu avail 0.8; mem avail 50000000/67108864 = 0.745058
    //   resource = 0.48 + 0.298023 = 0.778023; locality 10/21 = 0.476190; pressure factor 1 − 0.1/2×0.3 = 0.985
    //   total = (0.311209 + 0.142857 + 0 + 0.1) × 0.985 = 0.554066 × 0.985 = 0.545755
    // The node is chosen by expected latency (engine/latency.ts); the default profile: cold start
    // 500 ms, service 100 ms (nothing measured yet), memory intensity 0.5.
    // Node 0: measured demand 16 × (busy 0.7 + cpu stall 0.5) = 19.2 CPUs, + 1 → 20.2/16 = 1.2625,
    //   ÷ (1 − memory stall 0.1) = 1.402778 → 500 + 100 × 1.402778 = 640.3 ms
    // Node 1: 16 × (0.2 + 0.1) = 4.8 + 1 ≤ 16 → 1; remote 1 + 0.5 × (21/10 − 1) = 1.55 → 500 + 155 = 655 ms
    expect(d.scores).toEqual([
      {
        node: 0,
        eligible: true,
        resource: 0.299209,
        locality: 1,
        affinity: 0,
        balance: 1,
        pressure_factor: 0.91,
        total: 0.472912,
        expected_ms: 640.3,
      },
      {
        node: 1,
        eligible: true,
        resource: 0.778023,
        locality: 0.47619,
        affinity: 0,
        balance: 1,
        pressure_factor: 0.985,
        total: 0.545755,
        expected_ms: 655,
      },
    ]);
    // Node 0, beside the data though busier, is expected 15 ms sooner: a cold start on its 16 CPUs.
    expect(d).toMatchObject({ action: 'place', start: 'cold', node: 0, fragment: 'api-0', request_id: 'req-1' });
    expect(d.reason).toBe('node 0: expected 640.3 ms; cold start (0 warm there)');
    expect(d.cpus).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // cpu 0.42 (avg10; first sample has no total delta) → level low; confidence (1 − 0.42) × 0.8 = 0.464
    expect(d.pressure.cpu).toMatchObject({ value: 0.42, level: 'low' });
    expect(d.confidence).toBe(0.464);
    expect(d.inputs_digest).toMatch(/^[0-9a-f]{16}$/);
    expect(d.commands).toEqual([
      {
        type: 'start',
        fragment: 'api-0',
        profile: 'api',
        node: 0,
        cpus: d.cpus,
        memory_kb: 524288,
        reason: 'cold start for req-1',
      },
    ]);
  });

  it('places despite a CPU stall fgo did not cause; defers for memory pressure while a node is full, back within the SLO', () => {
    const obs = JSON.parse(spawnSync('cat', [join(FIX, 'observation.json')], { encoding: 'utf8' }).stdout);
    obs.psi.cpu.some.avg10 = 0.81;
    const cpu = JSON.parse(
      fgo(
        'decide',
        '--topology',
        '2n-32c',
        '--observation',
        tmpFile('obs-cpu.json', JSON.stringify(obs)),
        '--request',
        join(FIX, 'request.json'),
      ).out,
    );
    expect(cpu.action).toBe('place'); // nothing of fgo's runs: none of 0.81 is relievable
    obs.psi.cpu.some.avg10 = 0.42;
    obs.psi.memory.some.avg10 = 0.75;
    obs.nodes[0].mem_free_kb = 1_000_000; // under 2 % of node 0's 64 GiB: full
    // With the default 1-s SLO there is no time to wait: the request is expected to take ~650 ms.
    const mem = tmpFile('obs-mem.json', JSON.stringify(obs));
    expect(
      JSON.parse(
        fgo('decide', '--topology', '2n-32c', '--observation', mem, '--request', join(FIX, 'request.json')).out,
      ).action,
    ).toBe('place');
    // With a 60-s SLO it waits: 1000 × (1 + 9 × 0.75) = 7750 ms ± 20 %.
    const cfg = tmpFile('slo.json', JSON.stringify({ profiles: { api: { latency_slo_ms: 60_000 } } }));
    const d = JSON.parse(
      fgo(
        'decide',
        '--topology',
        '2n-32c',
        '--config',
        cfg,
        '--observation',
        mem,
        '--request',
        join(FIX, 'request.json'),
      ).out,
    );
    expect(d.action).toBe('defer');
    expect(d.reason).toBe('memory pressure 0.75 (0.75 relievable) ≥ high 0.7');
    expect(d.retry_after_ms).toBeGreaterThanOrEqual(6200);
    expect(d.retry_after_ms).toBeLessThanOrEqual(9300);
  });

  it('rejects a bad request with every problem located', () => {
    const f = tmpFile(
      'req.json',
      '{\n  "id": "",\n  "profile": "api",\n  "cpus": -1,\n  "memory_kb": 1.5,\n  "priority": 7\n}\n',
    );
    const r = fgo('decide', '--topology', '2n-32c', '--observation', join(FIX, 'observation.json'), '--request', f);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/req\.json:2:\d+: id:/);
    expect(r.err).toMatch(/req\.json:4:\d+: cpus:/);
    expect(r.err).toMatch(/req\.json:5:\d+: memory_kb:/);
    expect(r.err).toMatch(/req\.json:6:\d+: priority:/);
  });

  it('reads a topology file and rejects a broken one', () => {
    const good = tmpFile(
      't.json',
      JSON.stringify({
        nodes: [{ id: 0, cpus: [0, 1], memory_kb: 1048576, distances: [10] }],
        online_cpus: [0, 1],
        allowed_cpus: [0, 1],
        allowed_nodes: [0],
      }),
    );
    const req = tmpFile('r.json', JSON.stringify({ id: 'x', profile: 'api', cpus: 1, memory_kb: 1024, priority: 1 }));
    const obs = tmpFile(
      'o.json',
      JSON.stringify({
        t_ms: 0,
        psi: {
          cpu: { some: { avg10: 0, avg60: 0, avg300: 0 } },
          memory: { some: { avg10: 0, avg60: 0, avg300: 0 } },
          io: { some: { avg10: 0, avg60: 0, avg300: 0 } },
        },
      }),
    );
    expect(JSON.parse(fgo('decide', '--topology', good, '--observation', obs, '--request', req).out)).toMatchObject({
      action: 'place',
      node: 0,
      cpus: [0, 1],
    });
    const bad = tmpFile(
      't.json',
      '{\n "nodes": [\n  { "id": 0, "cpus": [0, 0], "memory_kb": 1, "distances": [10, 20] }\n ]\n}',
    );
    const r = fgo('decide', '--topology', bad, '--observation', obs, '--request', req);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/t\.json:3:\d+: nodes\.0\.cpus/);
    expect(r.err).toMatch(/t\.json:3:\d+: nodes\.0\.distances/);
  });
});

describe('fgo demo', () => {
  it('runs the scripted tour and shows every kind of decision and a healed crash', () => {
    const r = fgo('demo');
    expect(r.code).toBe(0);
    for (const s of ['PLACE', 'DEFER', 'SHED', 'restart', 'migrate', 'recovered after']) expect(r.out).toContain(s);
  });

  it('--json prints one JSON object per line, the same for the same seed', () => {
    const a = fgo('demo', '--json', '--seed', 's1').out;
    expect(fgo('demo', '--json', '--seed', 's1').out).toBe(a);
    const lines = a
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1).kind).toBe('summary');
  });
});
