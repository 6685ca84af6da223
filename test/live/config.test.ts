/** The live config: the bundled examples are valid, every problem is listed, paths resolve against the file. */
import { describe, expect, it } from 'vitest';
import { loadLiveConfig } from '../../cli/live.ts';
import { inputProblems, liveConfigProblems, tmpFile } from '../helpers.ts';

const problemsOf = liveConfigProblems;

describe('live config', () => {
  it('both examples are valid; relative state_dir, token and cwd resolve against the config folder', () => {
    const adopt = loadLiveConfig('live/examples/adopt.json');
    expect(adopt.mode).toBe('adopt');
    expect(adopt.state_dir).toBe(`${process.cwd()}/live/examples/state/adopt`);
    expect(adopt.token_file).toBe(`${adopt.state_dir}/token`);
    expect(adopt.engine.profiles.pinned?.exclusive_cpus).toBe(1);
    const pool = loadLiveConfig('live/examples/pool.json');
    expect(pool.pool.workers.echo?.cwd).toBe(`${process.cwd()}/live/examples`);
    expect(pool.engine.profiles.echo?.pool).toEqual({ min: 1, target: 2, max: 4 });
  });

  it('--mode overrides the file and is checked like it (pool mode needs workers)', () => {
    expect(() => loadLiveConfig('live/examples/adopt.json', { mode: 'pool' })).toThrow(
      /pool\.workers: pool mode needs at least one worker profile/,
    );
  });

  it('lists every problem at once', () => {
    const p = problemsOf({
      mode: 'adopt',
      colour: 'blue',
      adopt: { rules: [{ profile: 'x' }, { profile: 'y', cmdline: '(' }] },
      engine: { profiles: { y: { pool: { min: 1, target: 1 } } } },
    });
    // An unknown key does not hide the cross-field problems: they are checked on what is usable.
    expect(p).toEqual([
      'colour: unknown key',
      'engine.profiles.y.pool: adopt mode launches nothing, so pool.min and pool.target must be 0',
      'adopt.rules.0: needs at least one selector: pids, uid, exe, cgroup or cmdline',
      'adopt.rules.0.profile: "x" is not in engine.profiles',
      expect.stringMatching(/^adopt\.rules\.1\.cmdline: not a regular expression: /),
    ]);
    const q = problemsOf({
      mode: 'adopt',
      adopt: { rules: [{ profile: 'x' }, { profile: 'y', cmdline: '(' }] },
      engine: { profiles: { y: { pool: { min: 1 } } } },
    });
    expect(q).toEqual([
      'engine.profiles.y.pool: must satisfy min ≤ target ≤ max (got 1, 0, 64)',
      'engine.profiles.y.pool: adopt mode launches nothing, so pool.min and pool.target must be 0',
      'adopt.rules.0: needs at least one selector: pids, uid, exe, cgroup or cmdline',
      'adopt.rules.0.profile: "x" is not in engine.profiles',
      expect.stringMatching(/^adopt\.rules\.1\.cmdline: not a regular expression: /),
    ]);
  });

  it("runs the engine's own cross-checks, so a replay never refuses a config the agent ran on", () => {
    expect(
      problemsOf({
        mode: 'adopt',
        adopt: { rules: [{ profile: 'b', pids: [1] }] },
        engine: { placement: { weights: { resource: 0.9 } }, profiles: { b: {} } },
      }),
    ).toEqual(['engine.placement.weights: must sum to 1 (got 1.5)']);
  });

  it('refuses triggers the kernel would refuse, a bad cgroup parent, and worker commands that are not argv', () => {
    const p = problemsOf({
      mode: 'pool',
      cgroup_parent: '../x',
      triggers: [{ resource: 'cpu', stall_us: 3_000_000, window_us: 2_000_000 }],
      pool: { workers: { w: { command: ['./run.sh'] } } },
      engine: { profiles: { w: {} } },
    });
    expect(p[0]).toMatch(/^cgroup_parent: invalid cpuset group name/);
    expect(p[1]).toMatch(/^triggers\.0: PSI trigger stall 3000000 µs exceeds its window/);
    const w = problemsOf({
      mode: 'pool',
      pool: { workers: { w: { command: ['./run.sh'] } } },
      engine: { profiles: { w: {} } },
    });
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^pool\.workers\.w\.command: /);
  });

  it("refuses a metrics listener on the API's own address", () => {
    const base = { mode: 'adopt', adopt: { rules: [{ profile: 'b', pids: [1] }] }, engine: { profiles: { b: {} } } };
    expect(problemsOf({ ...base, listen: '127.0.0.1:9464', metrics_listen: '127.0.0.1:9464' })).toEqual([
      'metrics_listen: "127.0.0.1:9464" is the API\'s own address (listen); the metrics listener needs a port of its own',
    ]);
    expect(problemsOf({ ...base, metrics_listen: '0.0.0.0:9466' })).toEqual([]);
    expect(problemsOf({ ...base, listen: '127.0.0.1:0', metrics_listen: '127.0.0.1:0' })).toEqual([]);
  });

  it('the CLI locates problems in the file, line and column', () => {
    const file = tmpFile('live.json', '{\n  "mode": "adopt",\n  "interval_ms": 5,\n  "adopt": { "rules": [] }\n}\n');
    const problems = inputProblems(() => loadLiveConfig(file));
    expect(problems).toEqual([
      `${file}:3:18: interval_ms: Too small: expected number to be >=100`,
      `${file}:4:23: adopt.rules: adopt mode needs at least one rule (pids, uid, exe, cgroup or cmdline) naming what to manage`,
    ]);
  });
});
