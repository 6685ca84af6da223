/**
 * Pool mode's warm worker processes: one child per Worker, launched only from a command named in
 * the agent's config, spoken to over a line protocol (one JSON object per line; see
 * live/examples/echo-worker.mjs for the worker's side, in full).
 *
 * The agent runs as root, so this file is defensive by design:
 * - argv only, `shell: false`: a config value is never re-parsed by a shell, so no quoting bugs
 *   and no injection. A relative program path ("./x", "bin/x") is refused because it would
 *   resolve against whatever directory the agent happens to run in.
 * - a minimal environment (PATH, LANG, HOME + the spec's env): the agent's own variables (tokens,
 *   NODE_OPTIONS, LD_PRELOAD…) never reach a worker.
 * - every stdout line is bounded (max_line_bytes), and so is every stderr line (4 KiB), so a
 *   runaway worker cannot make the agent buffer without limit.
 * - nothing a worker does can throw in the agent: spawn failure, EPIPE and bad lines all become
 *   hook calls, and `exit` fires exactly once per worker, whatever happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { LineReader, truncateUtf8 } from './line-reader.ts';
import { encodePayload, parseMessage, type WorkerCall } from './worker-protocol.ts';
import { type WorkerSpec, validateSpec } from './worker-spec.ts';

export type WorkerState = 'starting' | 'ready' | 'busy' | 'stopping' | 'exited';
export interface WorkerResult {
  id: string;
  ok: boolean;
  result?: unknown;
  error?: string;
  latency_ms: number;
}
/**
 * How a worker ended. `pending` is the id of the request it held, so the agent can fail and retry it.
 * `ready_ms`: how long it had been ready (absent: it never was), so the agent can tell a start
 * failure from the crash of a worker that served.
 */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  reason: string;
  pending?: string;
  ready_ms?: number;
}

export interface WorkerHooks {
  ready(w: Worker): void;
  /** latency_ms: from send() to the result line, monotonic clock. */
  result(w: Worker, m: WorkerResult): void;
  /** An explicit heartbeat line. Every valid line also advances `lastHeartbeat_ms`. */
  heartbeat(w: Worker): void;
  /** Exactly once per worker, including spawn failure (reason names the program) and ready timeout. */
  exit(w: Worker, how: WorkerExit): void;
  /** Bad JSON, unknown type, result for an unknown id: logged, worker kept unless the line was over the limit. */
  protocolError?(w: Worker, problem: string): void;
  /** Lines of the worker's stderr, for the agent's log (at most 4 KiB each; the rest of a longer line is dropped). */
  stderr?(w: Worker, line: string): void;
  /** A call to another profile, made while the worker holds a request (refused with an answer otherwise). */
  call?(w: Worker, c: WorkerCall): void;
}

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
export const STDERR_LINE_BYTES = 4096;
/** A worker that ends before it is ready has its first stderr lines quoted in the exit reason: at most this many lines… */
export const STDERR_HEAD_LINES = 5;
/** …and this many bytes, so a failing command's log line stays readable and bounded. */
export const STDERR_HEAD_BYTES = 1024;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** After 'exit', how long to wait for the pipes to close: a grandchild holding stdout open must not delay `exit` forever. */
const CLOSE_WAIT_MS = 250;

export class Worker {
  private child: ChildProcess | undefined;
  private _state: WorkerState = 'starting';
  private lastLine = performance.now(); // spawn time until the first line, so a fresh worker is not already stale
  private pending: { id: string; start: number } | undefined;
  private endReason: string | undefined; // why the agent ended it; the first cause wins
  private deaf = false; // set after an over-long line: nothing more is read from a worker being killed
  private readyAt: number | undefined; // performance.now() of the ready line
  private stderrHead: string[] = [];
  private stderrHeadBytes = 0;
  private timers: NodeJS.Timeout[] = [];
  private resolveExited!: () => void;
  private readonly exited = new Promise<void>((r) => (this.resolveExited = r));

  private constructor(
    readonly fragment: string,
    readonly profile: string,
    private readonly spec: WorkerSpec,
    private readonly hooks: WorkerHooks,
  ) {}

  static spawn(fragment: string, profile: string, spec: WorkerSpec, hooks: WorkerHooks): Worker {
    const w = new Worker(fragment, profile, spec, hooks);
    w.start();
    return w;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get state(): WorkerState {
    return this._state;
  }
  /** performance.now() of the ready line; undefined before it. */
  get readySince_ms(): number | undefined {
    return this.readyAt;
  }
  /** performance.now() of the last valid line (or of the spawn, before any). */
  get lastHeartbeat_ms(): number {
    return this.lastLine;
  }

  /**
   * Hand over one request. A payload that cannot be encoded (too deep for JSON.stringify, a BigInt,
   * a cycle) is not sent: the problem is returned and the worker stays ready, so the caller fails
   * that request alone. Throws only on misuse (worker not ready and idle, empty id).
   */
  send(req: { id: string; payload?: unknown }): { ok: true } | { ok: false; error: string } {
    if (this._state !== 'ready')
      throw new Error(
        `worker ${this.label()} is ${this._state}${this.pending ? ` with request '${this.pending.id}'` : ''}, not ready`,
      );
    if (typeof req.id !== 'string' || req.id === '') throw new Error('a request id must be a non-empty string');
    const enc = encodePayload(req.payload);
    if (!enc.ok) return enc;
    const line = `{"type":"request","id":${JSON.stringify(req.id)},"profile":${JSON.stringify(this.profile)}${enc.json === undefined ? '' : `,"payload":${enc.json}`}}\n`;
    this.pending = { id: req.id, start: performance.now() };
    this._state = 'busy';
    this.child?.stdin?.write(line);
    return { ok: true };
  }

  /** Answer a call the worker made: one `answer` line with its id. Nothing is written to a worker that has ended. */
  answer(id: string, a: { ok: true; result?: unknown } | { ok: false; error: string }): void {
    if (this._state === 'exited' || this._state === 'stopping') return;
    const enc = a.ok ? encodePayload(a.result) : { ok: true as const, json: JSON.stringify(a.error) };
    const body = !enc.ok
      ? `"ok":false,"error":${JSON.stringify(enc.error)}`
      : a.ok
        ? `"ok":true${enc.json === undefined ? '' : `,"result":${enc.json}`}`
        : `"ok":false,"error":${enc.json}`;
    this.child?.stdin?.write(`{"type":"answer","id":${JSON.stringify(id)},${body}}\n`);
  }

  /** Close stdin (a well-behaved worker exits on EOF), SIGTERM after stop_grace_ms/2, SIGKILL after stop_grace_ms. Resolves after `exit`. */
  stop(reason: string): Promise<void> {
    if (this._state === 'exited' || this._state === 'stopping') return this.exited;
    this._state = 'stopping';
    this.endReason ??= `stopped: ${reason}`;
    const child = this.child;
    if (child?.pid !== undefined) {
      child.stdin?.end();
      this.after(this.spec.stop_grace_ms / 2, () => child.kill('SIGTERM'));
      this.after(this.spec.stop_grace_ms, () => child.kill('SIGKILL'));
    }
    return this.exited;
  }

  /** SIGKILL now; `exit` follows. */
  kill(): void {
    if (this._state === 'exited') return;
    this.endReason ??= 'killed';
    this.child?.kill('SIGKILL');
  }

  private label(): string {
    return `${this.fragment}/${this.profile}[${this.pid ?? 'no pid'}]`;
  }

  private after(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  private start(): void {
    const problems = validateSpec(this.spec);
    // spawn never throws and never calls a hook before returning: the caller must hold the Worker first
    if (problems.length > 0)
      return void process.nextTick(() => this.finish(null, null, `invalid spec: ${problems.join('; ')}`));
    const [program, ...args] = this.spec.command as [string, ...string[]];
    const env = { PATH: process.env.PATH || DEFAULT_PATH, LANG: 'C.UTF-8', HOME: homedir(), ...this.spec.env };
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        shell: false,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: false,
        env,
        cwd: this.spec.cwd,
        windowsHide: true,
      });
    } catch (e) {
      return void process.nextTick(() => this.finish(null, null, `cannot start '${program}': ${(e as Error).message}`));
    }
    this.child = child;
    // 'error' with no pid is a spawn failure (ENOENT, EACCES); with a pid it is a failed kill, and 'exit' still comes
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) this.finish(null, null, spawnFailure(program, this.spec.cwd, e));
    });
    child.stdin?.on('error', () => {}); // EPIPE: the worker is gone, and 'exit' reports it
    const out = new LineReader(
      this.spec.max_line_bytes ?? DEFAULT_MAX_LINE_BYTES,
      (l) => this.onLine(l),
      () => this.onOverlong(),
    );
    const err = new LineReader(
      STDERR_LINE_BYTES,
      (l) => this.onStderr(l),
      (head) => this.onStderr(truncateUtf8(head, STDERR_LINE_BYTES)),
    );
    child.stdout
      ?.on('data', (b: Buffer) => out.push(b))
      .on('end', () => out.end())
      .on('error', () => {});
    child.stderr
      ?.on('data', (b: Buffer) => err.push(b))
      .on('end', () => err.end())
      .on('error', () => {});
    child.on('exit', (code, signal) => {
      this.clearTimers();
      this.after(CLOSE_WAIT_MS, () => this.finish(code, signal));
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => this.finish(code, signal));
    if (child.pid !== undefined)
      this.after(this.spec.ready_timeout_ms, () => {
        if (this._state !== 'starting') return;
        this.endReason ??= `ready timeout: no ready line within ${this.spec.ready_timeout_ms} ms`;
        child.kill('SIGKILL');
      });
  }

  private onStderr(line: string): void {
    if (
      this.readyAt === undefined &&
      this.stderrHead.length < STDERR_HEAD_LINES &&
      this.stderrHeadBytes < STDERR_HEAD_BYTES
    ) {
      const kept = truncateUtf8(line, STDERR_HEAD_BYTES - this.stderrHeadBytes);
      this.stderrHead.push(kept);
      this.stderrHeadBytes += Buffer.byteLength(kept);
    }
    this.hooks.stderr?.(this, line);
  }

  private onOverlong(): void {
    if (this.deaf || this._state === 'exited') return;
    this.deaf = true;
    const problem = `stdout line over ${this.spec.max_line_bytes ?? DEFAULT_MAX_LINE_BYTES} bytes`;
    this.hooks.protocolError?.(this, problem);
    this.endReason ??= `protocol error: ${problem}`;
    this.child?.kill('SIGKILL');
  }

  private onLine(raw: string): void {
    if (this.deaf || this._state === 'exited') return;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return; // blank lines carry nothing; tolerated
    const { msg, problem } = parseMessage(line);
    if (problem !== undefined) this.hooks.protocolError?.(this, problem);
    if (msg === undefined) return;
    if (msg.type === 'result' && this.pending?.id !== msg.id)
      return void this.hooks.protocolError?.(this, `result for unknown id '${msg.id}'`);
    this.lastLine = performance.now();
    if (msg.type === 'heartbeat') this.hooks.heartbeat(this);
    else if (msg.type === 'call') {
      if (this._state !== 'busy' || !this.hooks.call)
        return this.answer(msg.id, {
          ok: false,
          error: this._state !== 'busy' ? 'a call is made while serving a request' : 'this agent takes no calls',
        });
      this.hooks.call(this, {
        id: msg.id,
        profile: msg.profile,
        ...('payload' in msg ? { payload: msg.payload } : {}),
      });
    } else if (msg.type === 'ready') {
      if (this._state !== 'starting') return; // a repeated ready is only a sign of life
      this._state = 'ready';
      this.readyAt = this.lastLine;
      this.hooks.ready(this);
    } else {
      const latency_ms = this.lastLine - (this.pending as { start: number }).start; // a result's id matched pending above
      this.pending = undefined;
      if (this._state === 'busy') this._state = 'ready';
      this.hooks.result(this, {
        id: msg.id,
        ok: msg.ok,
        ...('result' in msg ? { result: msg.result } : {}),
        ...(msg.error !== undefined ? { error: msg.error } : {}),
        latency_ms,
      });
    }
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** The single exit point: reached from 'close', from the CLOSE_WAIT_MS fallback after 'exit', or from a spawn failure. */
  private finish(code: number | null, signal: string | null, failure?: string): void {
    if (this._state === 'exited') return;
    this._state = 'exited';
    this.clearTimers();
    for (const s of [this.child?.stdin, this.child?.stdout, this.child?.stderr]) s?.destroy();
    const pending = this.pending?.id;
    this.pending = undefined;
    const status =
      (code !== null ? `exited with code ${code}` : signal !== null ? `killed by ${signal}` : 'ended') +
      (pending !== undefined ? ` while busy with request '${pending}'` : '');
    let reason = failure ?? (this.endReason !== undefined ? `${this.endReason}; ${status}` : status);
    if (this.readyAt === undefined && this.stderrHead.length > 0)
      reason += `; stderr: ${JSON.stringify(this.stderrHead.join('\n'))}`;
    const ready_ms = this.readyAt === undefined ? undefined : performance.now() - this.readyAt;
    try {
      this.hooks.exit(this, {
        code,
        signal,
        reason,
        ...(pending !== undefined ? { pending } : {}),
        ...(ready_ms !== undefined ? { ready_ms } : {}),
      });
    } finally {
      this.resolveExited();
    }
  }
}

function spawnFailure(program: string, cwd: string | undefined, e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOENT' && cwd !== undefined && !existsSync(cwd))
    return `cannot start '${program}': working directory '${cwd}' does not exist (ENOENT)`;
  const why =
    e.code === 'ENOENT'
      ? 'no such program (absolute path missing, or not found in PATH)'
      : e.code === 'EACCES'
        ? 'permission denied (not executable?)'
        : e.message;
  return `cannot start '${program}': ${why}${e.code !== undefined && !why.includes(e.code) ? ` (${e.code})` : ''}`;
}
