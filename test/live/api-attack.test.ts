/**
 * Issue 12's attacks on the API, run for real against the `fgo live` agent (pool mode, echo
 * workers, dry run) on 127.0.0.1 with bounded counts and time: one authenticated 60 KB body of
 * 30,000 nested arrays; 256 slowloris connections; 256 WebSockets held on /v1/stream. Under each,
 * /healthz and an authenticated `wait: true` schedule must keep being answered. No latency is
 * asserted (the figures come from bench/api-attack.ts); a probe that gets no answer within 10 s
 * (30 s for a schedule) counts as failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { idleStreams, probe, slowloris, timedRequest } from '../../bench/api-attack.ts';
import {
  harness,
  http,
  startAgent,
  state,
  teardown,
  until,
  writePoolConfig,
  type AgentProc,
  type Harness,
} from './pool-helpers.ts';

const ATTACK_MS = 8_000;
let h: Harness,
  a: AgentProc,
  port = 0;

beforeAll(async () => {
  h = harness();
  writePoolConfig(h);
  a = await startAgent(h);
  port = Number(a.where.split(':').pop());
  await until(
    async () => (await state(h, a)).pool.workers.some((w: { state: string }) => w.state === 'ready'),
    30_000,
    'a ready worker',
  );
}, 60_000);
afterAll(() => teardown(h), 40_000);

/** The echo profile's pool as the engine counts it. */
const pool = async () => (await state(h, a)).engine.pools.find((p: { profile: string }) => p.profile === 'echo');

describe('the agent under attack', () => {
  it('refuses one 60 KB body of 30,000 nested arrays with 400 and stays whole: no fragment left active, the next request served', async () => {
    const raw = `{"profile":"echo","wait":true,"payload":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const r = await http(a.url, 'POST', '/v1/schedule', { token: a.token, raw });
    expect([r.status, r.body]).toEqual([400, { error: 'JSON nested deeper than 64 levels (line 1, column 104)' }]); // the prefix is 40 characters: the 64th '[' (depth 65) is at column 41 + 63
    expect((await pool())?.active).toBe(0);
    const ok = await http(a.url, 'POST', '/v1/schedule', {
      token: a.token,
      body: { profile: 'echo', payload: { n: 1 }, wait: true },
    });
    expect([ok.status, ok.body?.result?.echo]).toEqual([200, { n: 1 }]);
    expect(a.exit).toBeUndefined();
  }, 30_000);

  it('keeps answering /healthz and authenticated schedules while 256 connections trickle header lines (slowloris)', async () => {
    const attack = slowloris(port, 256);
    try {
      await until(() => attack.live >= 128, 10_000, 'the attack to hold 128 connections', 20);
      const r = await probe(port, a.token, ATTACK_MS, 200);
      expect(r.healthz_failed, r.failures.join('; ')).toBe(0);
      expect(r.healthz_ms.length).toBeGreaterThan(0);
      expect(r.schedule_failed, r.failures.join('; ')).toBe(0);
      expect(r.schedule_ok).toBeGreaterThan(0);
      expect(attack.opened).toBeGreaterThanOrEqual(256);
    } finally {
      attack.stop();
    }
    expect(a.exit).toBeUndefined();
  }, 60_000);

  it("keeps answering /healthz and schedules, and serves a token holder's stream, while 256 WebSockets besiege /v1/stream", async () => {
    const attack = idleStreams(port, 256);
    try {
      await until(() => attack.refused >= 256 - 8, 10_000, 'the stream budget to be full', 20);
      expect(attack.live).toBeLessThanOrEqual(8);
      const r = await probe(port, a.token, ATTACK_MS, 200);
      expect([r.healthz_failed, r.schedule_failed], r.failures.join('; ')).toEqual([0, 0]);
      expect(r.schedule_ok).toBeGreaterThan(0);
      const own = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, {
        headers: { authorization: `Bearer ${a.token}` },
      });
      const first = await new Promise<string>((resolve, reject) => {
        own.once('message', (d) => resolve(JSON.parse(String(d)).type));
        own.once('unexpected-response', (_q, res) => reject(new Error(`stream refused: ${res.statusCode}`)));
      });
      expect(first).toBe('history'); // the agent's stream opens with the recent past (serve/stream-history.ts)
      own.terminate();
      const anonymous = await timedRequest(port, 'GET', '/healthz');
      expect(anonymous.status).toBe(200);
    } finally {
      attack.stop();
    }
    expect(a.exit).toBeUndefined();
  }, 60_000);
});
