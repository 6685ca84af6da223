/**
 * `fgo sim --serve`: the live dashboard (serve/dashboard.ts) on a simulated run. The run is paced to
 * the wall clock (`speed` simulated seconds per second, checked at each scaling boundary) and its
 * decisions and samples go out on the same WebSocket stream the agent serves, so the same page
 * shows either. Decisions are sent in a compact form (what the page charts: time, action,
 * profile) — a run decides hundreds of times a simulated second.
 *
 * Like the agent, the server keeps the recent past (serve/stream-history.ts) for a page opened late
 * or after the run, answers /v1/state with the engine's status at the last agent tick, and feeds
 * the fgo_* metrics from the run: decisions, sheds, cold starts, PSI, node utilisation, pool sizes.
 */
import { randomBytes } from 'node:crypto';
import type { Decision, Observation } from '../engine/index.ts';
import type { Status } from '../engine/status.ts';
import { startApi } from '../serve/api.ts';
import type { AgentPort } from '../serve/agent-port.ts';
import type { StreamMessage } from '../serve/stream-message.ts';
import { AgentMetrics } from '../serve/metrics.ts';
import { StreamHistory } from '../serve/stream-history.ts';
import type { RunWatcher } from './agent-loop.ts';

export interface ServedRun {
  url: string;
  watch: RunWatcher;
  /** Simulated ms reached so far. */
  readonly t_ms: number;
  close(): Promise<void>;
}

export async function serveRun(listen: string, title: string, speed: number): Promise<ServedRun> {
  if (!(speed > 0)) throw new RangeError(`--speed must be > 0, got ${speed}`);
  const listeners = new Set<(m: StreamMessage) => void>();
  const history = new StreamHistory();
  const publish = (m: StreamMessage) => {
    history.record(m);
    for (const l of listeners) l(m);
  };
  const metrics = new AgentMetrics();
  let t_ms = 0;
  /** The engine's status reader (undefined for a baseline policy, which has none) and its last reading. */
  let status: (() => Status) | undefined;
  let engine: Status | undefined;
  const port: AgentPort = {
    mode: 'pool',
    metrics,
    // A simulation takes no requests; the token only keeps the route's contract.
    schedule: () => Promise.resolve({ status: 409, body: { error: 'this is a simulation: it takes no requests' } }),
    // The live agent's shape where the twin has the same figures (engine: pools, nodes, pressure, deferred, incidents, outages).
    state: () => ({
      simulation: title,
      mode: 'pool',
      speed,
      t_ms,
      decisions: history.decisions(),
      ...(engine ? { engine } : {}),
    }),
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    history: () => history.message(),
  };
  const api = await startApi(port, { listen, token: randomBytes(32).toString('hex'), title });
  const started = performance.now();
  const watch: RunWatcher = {
    engine: (read) => (status = read),
    decision: (d: Decision) => {
      // The engine's time per decision is the twin's wall time (wall.json), not an agent's latency: not observed.
      metrics.observeDecision(d, Number.NaN);
      publish({
        type: 'decision',
        decision: {
          seq: d.seq,
          t_ms: d.t_ms,
          request_id: d.request_id,
          profile: d.profile,
          action: d.action,
        } as Decision,
      });
    },
    sample: (t: number, obs: Observation) => {
      t_ms = t;
      metrics.observeSample(obs);
      if (status) {
        engine = status();
        metrics.observeStatus(engine);
      }
      publish({
        type: 'sample',
        t_ms: t,
        psi: obs.psi,
        ...(engine ? { pressure: engine.pressure } : {}),
        ...(obs.nodes ? { nodes: obs.nodes } : {}),
      });
    },
    boundary: async (t_us: number) => {
      const due_ms = started + t_us / 1000 / speed;
      const wait_ms = due_ms - performance.now();
      // Always yield once, so the stream's sockets flush even when the run is behind.
      await new Promise((r) => setTimeout(r, Math.max(0, wait_ms)));
    },
  };
  const host = api.host.includes(':') ? `[${api.host}]` : api.host;
  return {
    url: `http://${host}:${api.port}/`,
    watch,
    get t_ms() {
      return t_ms;
    },
    close: () => api.close(),
  };
}
