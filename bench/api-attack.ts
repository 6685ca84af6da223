/**
 * The live API under the starvation attacks of issue 12, measured on this host: a real pool-mode
 * agent (`fgo live`, echo workers, dry run) on 127.0.0.1, probed with GET /healthz every 50 ms on a
 * fresh connection and an authenticated `wait: true` schedule every 500 ms, three phases in turn:
 * - baseline: no attack;
 * - slowloris: 256 connections each sending one header line every 2 s, reopened as soon as the
 *   agent closes one;
 * - streams: 256 WebSockets on /v1/stream held open (those refused are retried every 500 ms).
 * Reports /healthz p50/p99/max and failures, and schedule successes, per phase.
 *
 *   node --import tsx bench/api-attack.ts [--phase-s 15] [--json]
 *
 * The attackers and the probe are exported for test/live/api-attack.test.ts.
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { harness, startAgent, teardown, writePoolConfig } from './pool-agent.ts';
import { roundTo } from '../engine/round.ts';

export interface Attack {
  /** Connections opened so far (including reopened ones). */
  readonly opened: number;
  /** Connections open now. */
  readonly live: number;
  /** Handshakes the agent refused (streams: 503). */
  readonly refused: number;
  stop(): void;
}

/** `n` connections each sending one header line every `every_ms`; one the agent closes is reopened at once. */
export function slowloris(port: number, n: number, every_ms = 2_000): Attack {
  const socks = new Set<Socket>();
  let opened = 0,
    stopped = false;
  const open = () => {
    if (stopped) return;
    opened++;
    const s = connect(port, '127.0.0.1');
    socks.add(s);
    let line = 0;
    const timer = setInterval(() => s.write(`X-Slow-${line++}: ${'a'.repeat(20)}\r\n`), every_ms);
    s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      socks.delete(s);
      setImmediate(open);
    });
  };
  for (let i = 0; i < n; i++) open();
  return {
    get opened() {
      return opened;
    },
    get live() {
      return socks.size;
    },
    refused: 0,
    stop() {
      stopped = true;
      for (const s of socks) s.destroy();
    },
  };
}

/** `n` WebSockets on /v1/stream held open; a refused or closed one is retried after `retry_ms`. */
export function idleStreams(port: number, n: number, retry_ms = 500): Attack {
  const open = new Set<WebSocket>();
  let opened = 0,
    refused = 0,
    stopped = false;
  const one = () => {
    if (stopped) return;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`);
    ws.on('open', () => {
      opened++;
      open.add(ws);
    });
    ws.on('unexpected-response', (_req, res) => {
      refused++;
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      open.delete(ws);
      setTimeout(one, retry_ms);
    });
  };
  for (let i = 0; i < n; i++) one();
  return {
    get opened() {
      return opened;
    },
    get live() {
      return open.size;
    },
    get refused() {
      return refused;
    },
    stop() {
      stopped = true;
      for (const ws of open) ws.terminate();
    },
  };
}

/** One request on a fresh connection: status and wall time, or status 0 when it failed or took over `timeout_ms`. */
export function timedRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  timeout_ms = 10_000,
): Promise<{ status: number; ms: number; error?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, error?: string) =>
      resolve({ status, ms: performance.now() - t0, ...(error ? { error } : {}) });
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      res
        .resume()
        .on('end', () => done(res.statusCode ?? 0))
        .on('error', (e) => done(0, `response: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    req.setTimeout(timeout_ms, () => req.destroy(new Error(`no answer in ${timeout_ms} ms`)));
    req.on('error', (e) => done(0, (e as NodeJS.ErrnoException).code ?? e.message));
    req.end(body);
  });
}

/** `failures`: what each failed probe got (a status, an error code or the timeout), at what ms into the probe. */
export interface ProbeResult {
  healthz_ms: number[];
  healthz_failed: number;
  schedule_ok: number;
  schedule_failed: number;
  failures: string[];
}

/** /healthz every `every_ms` and an authenticated `wait: true` echo schedule every 10th time, for `duration_ms`. */
export async function probe(port: number, token: string, duration_ms: number, every_ms = 50): Promise<ProbeResult> {
  const r: ProbeResult = { healthz_ms: [], healthz_failed: 0, schedule_ok: 0, schedule_failed: 0, failures: [] };
  const t0 = performance.now();
  const failed = (what: string, h: { status: number; ms: number; error?: string }) =>
    r.failures.push(
      `${what} at ${Math.round(performance.now() - t0 - h.ms)} ms: ${h.error ?? `status ${h.status}`} after ${Math.round(h.ms)} ms`,
    );
  const pending: Promise<void>[] = [];
  const body = JSON.stringify({ profile: 'echo', payload: { probe: true }, wait: true });
  const headers = {
    Authorization: `Bearer ${token}`,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
  };
  for (let i = 0, end = performance.now() + duration_ms; performance.now() < end; i++) {
    pending.push(
      timedRequest(port, 'GET', '/healthz').then((h) => {
        if (h.status === 200) r.healthz_ms.push(h.ms);
        else {
          r.healthz_failed++;
          failed('healthz', h);
        }
      }),
    );
    if (i % 10 === 0) {
      pending.push(
        timedRequest(port, 'POST', '/v1/schedule', headers, body, 30_000).then((s) => {
          if (s.status === 200) r.schedule_ok++;
          else {
            r.schedule_failed++;
            failed('schedule', s);
          }
        }),
      );
    }
    await new Promise((res) => setTimeout(res, every_ms));
  }
  await Promise.all(pending);
  return r;
}

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number) : NaN;
};

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const phase_ms = 1000 * Number(process.argv[process.argv.indexOf('--phase-s') + 1] ?? 15) || 15_000;
  const h = harness();
  try {
    writePoolConfig(h);
    const a = await startAgent(h);
    const port = Number(a.where.split(':').pop());
    await new Promise((r) => setTimeout(r, 2_000)); // the first workers warm up
    const phases: Record<string, ProbeResult & { attack?: { opened: number; refused: number } }> = {};
    phases.baseline = await probe(port, a.token, phase_ms);
    for (const [name, start] of [
      ['slowloris', () => slowloris(port, 256)],
      ['streams', () => idleStreams(port, 256)],
    ] as const) {
      const attack = start();
      await new Promise((r) => setTimeout(r, 2_000)); // let it reach full strength
      phases[name] = {
        ...(await probe(port, a.token, phase_ms)),
        attack: { opened: attack.opened, refused: attack.refused },
      };
      attack.stop();
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const summary = Object.fromEntries(
      Object.entries(phases).map(([k, v]) => [
        k,
        {
          healthz: {
            n: v.healthz_ms.length,
            failed: v.healthz_failed,
            p50_ms: roundTo(percentile(v.healthz_ms, 50), 2),
            p99_ms: roundTo(percentile(v.healthz_ms, 99), 2),
            max_ms: roundTo(Math.max(...v.healthz_ms), 2),
          },
          schedule: { ok: v.schedule_ok, failed: v.schedule_failed },
          attack: v.attack,
        },
      ]),
    );
    if (json) console.log(JSON.stringify({ api_attack: summary }));
    else
      for (const [k, v] of Object.entries(summary)) {
        console.log(
          `${k.padEnd(10)} /healthz n=${v.healthz.n} failed=${v.healthz.failed} p50 ${v.healthz.p50_ms} ms, p99 ${v.healthz.p99_ms} ms, max ${v.healthz.max_ms} ms; schedule ok ${v.schedule.ok}, failed ${v.schedule.failed}${v.attack ? `; attacker opened ${v.attack.opened}, refused ${v.attack.refused}` : ''}`,
        );
      }
  } finally {
    await teardown(h);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
