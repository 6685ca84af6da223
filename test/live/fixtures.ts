/**
 * Helpers for the end-to-end agent tests (test/live/agent-adopt.test.ts): the real CLI in a child
 * process, marked long-running processes to adopt, what the kernel says about a process (affinity
 * of every thread, cpuset cgroup, `taskset -p`), polling with a deadline, a two-node sysfs fixture,
 * and the cleanup of everything a test made (processes first, then its cpuset groups, then files).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const FGO = join(ROOT, 'bin/fgo.mjs');
export const CPUSET = '/sys/fs/cgroup/cpuset';

/** Root, a v1 cpuset hierarchy at the usual place and CPUs 0 and 1 online: what these tests need. */
export function hostSupportsAgentTests(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync(join(CPUSET, 'cpuset.cpus'))) return `no cgroup v1 cpuset hierarchy at ${CPUSET}`;
  const online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  if (!/^0-\d+$/.test(online) || online === '0-0') return `needs CPUs 0 and 1 online (online: ${online})`;
  return undefined;
}

export const randomTag = () => randomBytes(5).toString('hex');

// ---------------------------------------------------------------------------------------------
// Polling

/** Thrown inside a `waitFor` callback: stop waiting at once. */
export class Fatal extends Error {}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `fn` until it returns something other than undefined/false, or fail after `timeoutMs`
 * with `what` and the last value or error seen (a loaded CI machine gets the whole deadline).
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// What the kernel says about a process

const readOr = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

/** Cpus_allowed_list of /proc/PID[/task/TID]/status; undefined once gone. */
export function cpusAllowed(pid: number, tid?: number): string | undefined {
  const s = readOr(tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`);
  return s === undefined ? undefined : /^Cpus_allowed_list:\s*(\S+)/m.exec(s)?.[1];
}

/** Cpus_allowed_list of every thread, by tid. */
export function threadCpus(pid: number): Map<number, string | undefined> {
  const out = new Map<number, string | undefined>();
  for (const t of readdirSync(`/proc/${pid}/task`)) out.set(Number(t), cpusAllowed(pid, Number(t)));
  return out;
}

/** The cpuset controller's path in /proc/PID/cgroup (v1 line `N:cpuset:/path`). */
export function cpusetOf(pid: number): string | undefined {
  return /^\d+:cpuset:(.*)$/m.exec(readOr(`/proc/${pid}/cgroup`) ?? '')?.[1];
}

/** The mask `taskset -p PID` prints ("pid 123's current affinity mask: 2" → 2). */
export function tasksetMask(pid: number): number {
  const r = spawnSync('taskset', ['-p', String(pid)], { encoding: 'utf8' });
  const m = /affinity mask:\s*([0-9a-f]+)/i.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`taskset -p ${pid}: status ${r.status}: ${r.stdout}${r.stderr}`);
  return parseInt(m[1] as string, 16);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Processes and the agent

/**
 * A node process whose command line carries `marker` (so a cmdline rule selects it and nothing
 * else). `worker`: it also runs a Worker thread, and `ready` resolves once that thread is online.
 * `exitAfterMs`: it exits by itself after that long.
 */
export function spawnMarked(
  marker: string,
  o: { worker?: boolean; exitAfterMs?: number; leaderExit?: boolean } = {},
): ChildProcess & { ready: Promise<void> } {
  if (o.leaderExit) return Object.assign(spawnLeaderExit(marker), { ready: Promise.resolve() });
  const code =
    o.exitAfterMs !== undefined
      ? `setTimeout(()=>{},${o.exitAfterMs})`
      : o.worker
        ? "new (require('worker_threads').Worker)('setInterval(()=>{},1000)',{eval:true}).on('online',()=>console.log('ready'));setInterval(()=>{},1000)"
        : 'setInterval(()=>{},1000)';
  const c = spawn(process.execPath, ['-e', code, marker], {
    stdio: ['ignore', o.worker ? 'pipe' : 'ignore', 'ignore'],
  });
  if (c.pid === undefined) throw new Error('could not spawn a marked process');
  const ready = o.worker
    ? new Promise<void>((resolve, reject) => {
        c.stdout?.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
        c.once('exit', () => reject(new Error('marked process exited before its worker thread was online')));
      })
    : Promise.resolve();
  return Object.assign(c, { ready });
}

/**
 * A marked node process with a Worker thread whose MAIN thread calls pthread_exit (through koffi)
 * once a line arrives on its stdin: its thread-group leader is then a zombie ("Z" in
 * /proc/PID/stat) while the process runs on in its other threads.
 */
function spawnLeaderExit(marker: string): ChildProcess {
  const code =
    "const k=require('koffi');new (require('worker_threads').Worker)('setInterval(()=>{},1000)',{eval:true});" +
    "process.stdin.once('data',()=>k.load('libc.so.6').func('void pthread_exit(void *)')(null))";
  const c = spawn(process.execPath, ['-e', code, marker], { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'] });
  if (c.pid === undefined) throw new Error('could not spawn a marked process');
  return c;
}

/** The state letter of /proc/PID/stat (the thread-group leader's). */
export function leaderState(pid: number): string | undefined {
  return /\) (\S) /.exec(readOr(`/proc/${pid}/stat`) ?? '')?.[1];
}

/** Run the CLI to completion. */
export function fgo(args: string[], timeout = 60_000): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [FGO, ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export interface RunningAgent {
  proc: ChildProcess;
  line: StartLine;
  pid: number;
  port: number;
  journal: string;
  stderr(): string;
  /** GET a path of the API, parsed as JSON. */
  get<T = unknown>(path: string): Promise<T>;
  /** GET a path of the API as text (/metrics). */
  getText(path: string): Promise<string>;
  /** Signal the agent and wait for it to exit; resolves with its exit code (null after a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** What `fgo live --json` prints on stdout once its API listens. */
export interface StartLine {
  listening: string;
  mode: string;
  enforce: boolean;
  state_dir: string;
  journal: string;
  pid: number;
}

/** `fgo live --config FILE [--enforce] --listen 127.0.0.1:0 --json ARGS`, once it printed its JSON line. */
export async function startAgent(
  cfgFile: string,
  o: { enforce?: boolean; args?: string[] } = {},
): Promise<RunningAgent> {
  const argv = [
    FGO,
    'live',
    '--config',
    cfgFile,
    ...(o.enforce === false ? [] : ['--enforce']),
    '--listen',
    '127.0.0.1:0',
    '--json',
    ...(o.args ?? []),
  ];
  const proc = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '',
    err = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const line = await waitFor(
    "the agent's JSON line on stdout",
    () => {
      if (gone) throw new Fatal(`agent exited before starting: ${err}`);
      const nl = out.indexOf('\n');
      return nl < 0 ? undefined : (JSON.parse(out.slice(0, nl)) as StartLine);
    },
    30_000,
  );
  const port = Number(line.listening.split(':').pop());
  const getText = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
    return r.text();
  };
  return {
    proc,
    line,
    pid: line.pid,
    port,
    journal: line.journal,
    stderr: () => err,
    getText,
    get: async <T>(path: string) => JSON.parse(await getText(path)) as T,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (!gone) proc.kill(signal);
      return exited;
    },
  };
}

/** The agent's `adopt.managed` list (GET /v1/state). */
export async function managedOf(a: RunningAgent): Promise<ManagedEntry[]> {
  return (await a.get<{ adopt: { managed: ManagedEntry[] } }>('/v1/state')).adopt.managed;
}

/** The sum of fgo_enforcement_errors_total over its labels in a /metrics text (0 when absent). */
export function enforcementErrors(metrics: string): number {
  return metrics
    .split('\n')
    .filter((l) => l.startsWith('fgo_enforcement_errors_total'))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

export type Entry = {
  type: string;
  op?: string;
  args?: unknown[];
  out?: unknown;
  epoch?: number;
  text?: string;
  level?: string;
  data?: unknown;
};

/** A journal's engine calls of one op (`readJournal(...).entries`). */
export function callsOf(entries: readonly unknown[], op: string): Entry[] {
  return (entries as Entry[]).filter((e) => e.type === 'call' && e.op === op);
}

// ---------------------------------------------------------------------------------------------
// One test's world, and its cleanup

export interface ManagedEntry {
  fragment: string;
  pid: number;
  node: number;
  cpus: number[];
  profile: string;
}

/** What a test made: temp dir, cgroup parent, marker, processes, agents — all undone by `cleanup()`. */
export class TestWorld {
  readonly tag = randomTag();
  readonly dir = mkdtempSync(join(tmpdir(), 'fgo-agent-'));
  readonly stateDir = join(this.dir, 'state');
  readonly parent = `fgo-test-${this.tag}`;
  /** Unique to this test: what the cmdline rule matches (never in the agent's own command line). */
  readonly marker = `fgo-adopt-test-${this.tag}`;
  readonly children: ChildProcess[] = [];
  readonly agents: RunningAgent[] = [];

  spawn(o: Parameters<typeof spawnMarked>[1] = {}): ReturnType<typeof spawnMarked> {
    const c = spawnMarked(this.marker, o);
    this.children.push(c);
    return c;
  }

  /** Write the live config (adopt mode, one cmdline rule on the marker) and return its path. */
  config(engine: object, extra: Record<string, unknown> = {}): string {
    const cfg = {
      mode: 'adopt',
      state_dir: this.stateDir,
      cgroup_parent: this.parent,
      interval_ms: 200,
      triggers: [],
      adopt: { scan_interval_ms: 200, rules: [{ profile: 'solo', cmdline: this.marker }] },
      engine,
      ...extra,
    };
    const file = join(this.dir, 'fgo.json');
    writeFileSync(file, JSON.stringify(cfg, null, 2));
    return file;
  }

  async agent(cfgFile: string, o: Parameters<typeof startAgent>[1] = {}): Promise<RunningAgent> {
    const a = await startAgent(cfgFile, o);
    this.agents.push(a);
    return a;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop('SIGKILL')));
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(
      this.children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)),
      ),
    );
    removeCgroupTree(join(CPUSET, this.parent));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** rmdir a v1 cpuset group and its children (deepest first), moving leftover processes to the root. */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  for (const pid of (readOr(join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean)) {
    try {
      writeFileSync(join(CPUSET, 'cgroup.procs'), pid);
    } catch {
      // exited meanwhile
    }
  }
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      // EBUSY while a just-killed process is still leaving the group
      if (i >= 50 || (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      spawnSync('sleep', ['0.05']);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A two-node sysfs for a two-CPU, one-node host

/**
 * A sysfs root describing this host as two NUMA nodes of one CPU each (node0 = cpu0, node1 =
 * cpu1), with the files formats/host/topology.ts, live/sampler.ts and live/meminfo.ts read: node/{online,
 * possible,has_cpu,has_memory,has_normal_memory}, node<N>/{cpulist,cpumap,distance,meminfo} (the
 * real node0 meminfo's format, half of its memory on each node, "Node 1" prefixes on node1),
 * cpu/{online,possible,present} and cpu<N>/{node<N>,topology/…}. Returns `dir`.
 */
export function makeTwoNodeSysfs(dir: string): string {
  const put = (p: string, text: string) => {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  };
  const node = 'devices/system/node',
    cpu = 'devices/system/cpu';
  for (const f of ['online', 'possible', 'has_cpu', 'has_memory', 'has_normal_memory']) put(`${node}/${f}`, '0-1\n');
  for (const f of ['online', 'possible', 'present']) put(`${cpu}/${f}`, '0-1\n');
  const real =
    readOr('/sys/devices/system/node/node0/meminfo') ??
    'Node 0 MemTotal:       16000000 kB\nNode 0 MemFree:        12000000 kB\nNode 0 MemUsed:         4000000 kB\n';
  for (const n of [0, 1]) {
    put(`${node}/node${n}/cpulist`, `${n}\n`);
    put(`${node}/node${n}/cpumap`, `${1 << n}\n`);
    put(`${node}/node${n}/distance`, n === 0 ? '10 20\n' : '20 10\n');
    // Every figure halved ("kB" lines; HugePages_* counts too), labelled with this node's number.
    put(
      `${node}/node${n}/meminfo`,
      real.replace(
        /^Node \d+ (\S+:\s*)(\d+)/gm,
        (_, k: string, v: string) => `Node ${n} ${k}${Math.floor(Number(v) / 2)}`,
      ),
    );
    mkdirSync(join(dir, cpu, `cpu${n}`, `node${n}`), { recursive: true });
    put(`${cpu}/cpu${n}/online`, '1\n');
    const t = `${cpu}/cpu${n}/topology`;
    put(`${t}/physical_package_id`, `${n}\n`);
    put(`${t}/core_id`, '0\n');
    put(`${t}/thread_siblings_list`, `${n}\n`);
    put(`${t}/core_siblings_list`, `${n}\n`);
    put(`${t}/package_cpus_list`, `${n}\n`);
  }
  return dir;
}
