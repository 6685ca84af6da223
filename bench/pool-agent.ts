/**
 * A real `fgo live` agent in pool mode, run from a scratch harness: temp dirs, a unique cpuset
 * parent, the processes started, the CLI started and stopped, a small HTTP client, polling with a
 * deadline, and a teardown that leaves no agent, worker, load process or cpuset group behind.
 * Used by bench/api-attack.ts and by the end-to-end tests (test/live/pool-helpers.ts adds a
 * harness per test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
export const FGO = join(REPO, 'bin/fgo.mjs');
export const ECHO_WORKER = join(REPO, 'live/examples/echo-worker.mjs');
export const CPUSET_ROOT = '/sys/fs/cgroup/cpuset';

export interface AgentProc {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  where: string;
  token: string;
  /** Resolves once the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stdout: () => string;
  stderr: () => string;
}

export interface Harness {
  dir: string;
  stateDir: string;
  cfgFile: string;
  parent: string;
  agents: AgentProc[];
  /** Every worker pid seen, to kill whatever outlives its agent. */
  pids: Set<number>;
  /** Extra processes a test started (CPU load). */
  extra: ChildProcess[];
}

export function harness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-pool-test-'));
  return {
    dir,
    stateDir: join(dir, 'state'),
    cfgFile: join(dir, 'fgo.json'),
    parent: `fgo-pool-test-${randomBytes(4).toString('hex')}`,
    agents: [],
    pids: new Set(),
    extra: [],
  };
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
function merge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Json, v) : v;
  return out;
}

/**
 * Engine pressure settings that keep a test about serving deaf to the host's own CPU noise (other
 * test files running in parallel on 2 CPUs can stall a 200 ms sample fully): only ~10 s of
 * near-total stall (avg10 ≥ 0.95) would defer. The pressure test sets its own.
 */
export const QUIET_PRESSURE: Json = {
  signal: 'avg10',
  thresholds: { cpu: { low: 0.8, medium: 0.9, high: 0.95, critical: 0.99 } },
};

/** A pool-mode config for the echo worker, deep-merged with `over`, written to h.cfgFile. */
export function writePoolConfig(h: Harness, over: Json = {}): Json {
  const base: Json = {
    mode: 'pool',
    interval_ms: 200,
    state_dir: h.stateDir,
    cgroup_parent: h.parent,
    triggers: [],
    pool: {
      workers: { echo: { command: [process.execPath, ECHO_WORKER], ready_timeout_ms: 10_000, stop_grace_ms: 2_000 } },
    },
    engine: {
      pressure: QUIET_PRESSURE,
      scaling: { interval_ms: 1_000 },
      profiles: { echo: { cpus: 0.5, memory_kb: 65_536, pool: { min: 1, target: 2, max: 4 } } },
    },
  };
  const cfg = merge(base, over);
  writeFileSync(h.cfgFile, JSON.stringify(cfg, null, 2));
  return cfg;
}

/** Spawn `fgo live` with the extra flags `args` (registered in h.agents for teardown); does not wait for it to listen. */
export function spawnAgent(h: Harness, args: string[]): AgentProc {
  const child = spawn(process.execPath, [FGO, 'live', '--config', h.cfgFile, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [],
    err: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (s: string) => out.push(s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => err.push(s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const a: AgentProc = {
    child,
    url: '',
    where: '',
    token: '',
    exited,
    exit: undefined,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
  void exited.then((e) => (a.exit = e));
  h.agents.push(a);
  return a;
}

/**
 * Start the agent and wait until its API listens. The address comes from the `--json` line on
 * stdout when `json` is set, else from the startup log line on stderr (`… API on http://H:P, …`).
 */
export async function startAgent(h: Harness, o: { enforce?: boolean; json?: boolean } = {}): Promise<AgentProc> {
  const a = spawnAgent(h, [...(o.json ? ['--json'] : []), ...(o.enforce ? ['--enforce'] : [])]);
  a.where = await until(
    async () => {
      if (a.exit) throw new Error(`agent exited (${JSON.stringify(a.exit)}) before listening:\n${a.stderr()}`);
      if (o.json) {
        const line = a
          .stdout()
          .split('\n')
          .find((l) => l.startsWith('{'));
        return line ? (JSON.parse(line) as { listening: string }).listening : undefined;
      }
      return /API on http:\/\/([^\s,]+)/.exec(a.stderr())?.[1];
    },
    30_000,
    'agent to listen',
    50,
  );
  a.url = `http://${a.where}`;
  a.token = readFileSync(join(h.stateDir, 'token'), 'utf8').trim();
  return a;
}

/** SIGTERM (or `signal`), wait for the exit; SIGKILL after `grace_ms`. */
export async function stopAgent(
  a: AgentProc,
  signal: NodeJS.Signals = 'SIGTERM',
  grace_ms = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (a.exit) return a.exit;
  a.child.kill(signal);
  const t = setTimeout(() => a.child.kill('SIGKILL'), grace_ms);
  const e = await a.exited;
  clearTimeout(t);
  return e;
}

/** What the echo worker (live/examples/echo-worker.mjs) answers: its pid, the payload, its calls' answers. */
export interface EchoResult {
  pid: number;
  echo: Record<string, unknown>;
  calls: Array<{ pid: number; echo: unknown }>;
}

/** The fields of an API answer (serve/api.ts) that the bench and the tests read; which are present depends on the answer. */
export interface ApiAnswer {
  action?: string;
  request_id?: string;
  seq?: number;
  start?: string;
  profile?: string;
  node?: number;
  fragment?: string;
  cpus?: number[];
  reason?: string;
  pressure?: { cpu: { value: number } };
  ok?: boolean;
  result?: EchoResult;
  error?: string;
  problems?: string[];
  retry_after_s?: number;
}

/** The fields of GET /v1/state (live/agent.ts) that the bench and the tests read. */
export interface AgentState {
  pool: {
    workers: Array<{ pid: number; state: string; fragment: string; profile: string }>;
    breakers: Record<string, { state: string; failures: number }>;
    pending: number;
  };
  engine: { pools: Array<{ profile: string; active: number }> };
  journal: { degraded: { code: string } | null; segment: string };
  decisions: Record<string, number>;
  triggers?: unknown[];
  last_trigger_reaction_ms?: number;
  turns: number;
  t_ms: number;
}

export interface Reply<B = ApiAnswer> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The answer parsed, or undefined when it is not JSON. */
  body: B | undefined;
}

/** One HTTP request; `body` (an object) is sent as JSON, `raw` as is. Resolves on the response even if sending the body failed. */
export function http<B = ApiAnswer>(
  base: string,
  method: string,
  path: string,
  o: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply<B>> {
  const data = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const headers: Record<string, string> = {
    ...(data !== undefined
      ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(data)) }
      : {}),
    ...o.headers,
  };
  if (o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res
        .on('data', (c: Buffer) => chunks.push(c))
        .on('error', reject)
        .on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: B | undefined;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path}: no answer within 20 s`)));
    req.on('error', (e) => {
      if (!answered) reject(e);
    }); // EPIPE/ECONNRESET after a refusal: the response decides
    req.end(data);
  });
}

/** Poll `fn` until it returns something other than undefined/false; throws naming `what` at the deadline. */
export async function until<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  what: string,
  every = 100,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (/exited .*before listening/.test(String(e))) throw e;
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `; last error: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The process exists and is not a zombie. */
export function running(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Our echo worker (checked before killing a remembered pid, which may have been reused). */
function isEchoWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ECHO_WORKER);
  } catch {
    return false;
  }
}

/** GET /v1/state; remembers the worker pids in h.pids. */
export async function state(h: Harness, a: AgentProc): Promise<AgentState> {
  const r = await http<AgentState>(a.url, 'GET', '/v1/state');
  if (r.status !== 200) throw new Error(`GET /v1/state: ${r.status} ${r.text}`);
  for (const w of r.body?.pool?.workers ?? []) if (typeof w.pid === 'number') h.pids.add(w.pid);
  return r.body as AgentState; // a 200 answer is the state's JSON
}

/** Remove `<cpuset>/<parent>` and its groups, children first; processes left in them go to the root group. */
export function removeCgroups(parent: string): void {
  const top = join(CPUSET_ROOT, parent);
  if (!existsSync(top)) return;
  const rm = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) rm(join(dir, d.name));
    try {
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split(/\s+/).filter(Boolean)) {
        try {
          writeFileSync(join(CPUSET_ROOT, 'cgroup.procs'), pid);
        } catch {
          /* exited meanwhile */
        }
      }
    } catch {
      /* unreadable: rmdir will say */
    }
    try {
      rmdirSync(dir);
    } catch (e) {
      process.stderr.write(`cleanup: rmdir ${dir}: ${(e as Error).message}\n`);
    }
  };
  rm(top);
}

/** Everything a test started: agents (SIGTERM, SIGKILL after 10 s), workers, load processes, cgroups, temp files. */
export async function teardown(h: Harness): Promise<void> {
  for (const a of h.agents) {
    if (!a.exit && a.url) await state(h, a).catch(() => undefined);
    await stopAgent(a);
  }
  for (const c of h.extra) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(
    h.extra.map((c) =>
      c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined,
    ),
  );
  for (const pid of h.pids)
    if (running(pid) && isEchoWorker(pid))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await until(() => [...h.pids].every((p) => !running(p) || !isEchoWorker(p)), 5_000, 'leftover workers to exit').catch(
    () => undefined,
  );
  removeCgroups(h.parent);
  rmSync(h.dir, { recursive: true, force: true });
}
