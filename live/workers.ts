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
import { isAbsolute } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

export interface WorkerSpec {
  /** argv: command[0] is the program (absolute path, or a name looked up in PATH), never run through a shell. */
  command: string[];
  /** Added to a minimal environment: PATH, LANG=C.UTF-8, HOME of the agent; nothing else from the agent's env leaks. */
  env?: Record<string, string>;
  /** Working directory (absolute); default the agent's. */
  cwd?: string;
  /** No ready line within this: the worker is killed and reported failed. */
  ready_timeout_ms: number;
  /** stop(): stdin closed, SIGTERM after half of this, SIGKILL after all of it. */
  stop_grace_ms: number;
  /** Default 1 MiB; a longer stdout line is a protocol error and the worker is killed. */
  max_line_bytes?: number;
}

/** A call to another profile (the fragment graph), made by a worker while it holds a request. */
export interface WorkerCall {
  id: string;
  profile: string;
  payload?: unknown;
}
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'heartbeat' }
  | { type: 'result'; id: string; ok: boolean; result?: unknown; error?: string }
  | ({ type: 'call' } & WorkerCall);
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

/** Problems with a spec (empty = fine). Checked by spawn too; specs come from a config file, so types are checked at run time. */
export function validateSpec(spec: WorkerSpec): string[] {
  const problems: string[] = [];
  const cmd: unknown = spec.command;
  if (!Array.isArray(cmd) || cmd.length === 0) problems.push('command is empty: it needs at least the program');
  else {
    cmd.forEach((arg: unknown, i) => {
      if (typeof arg !== 'string') problems.push(`command[${i}] is not a string`);
      else if (arg.includes('\0')) problems.push(`command[${i}] contains a NUL byte`);
    });
    const prog: unknown = cmd[0];
    if (prog === '') problems.push('command[0] (the program) is empty');
    else if (typeof prog === 'string' && prog.includes('/') && !isAbsolute(prog))
      problems.push(`program '${prog}' is a relative path: give an absolute path, or a bare name to look up in PATH`);
  }
  const env: unknown = spec.env;
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) problems.push('env is not an object of strings');
    else
      for (const [k, v] of Object.entries(env)) {
        if (k === '' || k.includes('=') || k.includes('\0'))
          problems.push(`env name '${k.replace(/\0/g, '\\0')}' is empty or holds '=' or a NUL byte`);
        if (typeof v !== 'string') problems.push(`env ${k} is not a string`);
        else if (v.includes('\0')) problems.push(`env ${k} contains a NUL byte`);
      }
  }
  const cwd: unknown = spec.cwd;
  if (cwd !== undefined && (typeof cwd !== 'string' || cwd.includes('\0') || !isAbsolute(cwd)))
    problems.push('cwd must be an absolute path without NUL bytes');
  for (const k of ['ready_timeout_ms', 'stop_grace_ms'] as const) {
    const v: unknown = spec[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      problems.push(`${k} must be a positive number of milliseconds`);
  }
  const max: unknown = spec.max_line_bytes;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max <= 0))
    problems.push('max_line_bytes must be a positive integer');
  return problems;
}

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
      const latency_ms = this.lastLine - this.pending!.start;
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

/**
 * A request payload as JSON text (undefined: no payload), or why it cannot be: JSON.stringify
 * recurses, so a payload nested deeper than the stack throws a RangeError; a BigInt or a cycle
 * throws a TypeError. Used by send() and, earlier, by the pool's admission, so such a request is
 * refused before the engine places it.
 */
export function encodePayload(payload: unknown): { ok: true; json: string | undefined } | { ok: false; error: string } {
  try {
    return { ok: true, json: JSON.stringify(payload) };
  } catch (e) {
    return { ok: false, error: `payload cannot be encoded as JSON: ${(e as Error).message}` };
  }
}

/** A line, checked. A malformed result that still names an id comes back as a failed result too, so its request is not left hanging. */
function parseMessage(line: string): { msg?: WorkerMessage; problem?: string } {
  const preview = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { problem: `not JSON: ${preview}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: `not a JSON object: ${preview}` };
  const o = v as Record<string, unknown>;
  if (o.type === 'ready' || o.type === 'heartbeat') return { msg: { type: o.type } };
  if (o.type === 'call') {
    if (typeof o.id !== 'string' || o.id === '' || o.id.length > 256)
      return { problem: `call without a string id of 1–256 characters: ${preview}` };
    if (typeof o.profile !== 'string') return { problem: `call '${o.id}' without a string profile: ${preview}` };
    return { msg: { type: 'call', id: o.id, profile: o.profile, ...('payload' in o ? { payload: o.payload } : {}) } };
  }
  if (o.type !== 'result')
    return { problem: `unknown message type ${JSON.stringify(o.type) ?? 'undefined'}: ${preview}` };
  if (typeof o.id !== 'string') return { problem: `result without a string id: ${preview}` };
  const bad =
    typeof o.ok !== 'boolean'
      ? 'ok is not a boolean'
      : o.error !== undefined && typeof o.error !== 'string'
        ? 'error is not a string'
        : undefined;
  if (bad !== undefined)
    return {
      msg: { type: 'result', id: o.id, ok: false, error: `malformed result: ${bad}` },
      problem: `result '${o.id}': ${bad}`,
    };
  return {
    msg: {
      type: 'result',
      id: o.id,
      ok: o.ok as boolean,
      ...('result' in o ? { result: o.result } : {}),
      ...(o.error !== undefined ? { error: o.error as string } : {}),
    },
  };
}

/** Cut to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // back off to a character boundary
  return b.subarray(0, end).toString('utf8');
}

/**
 * Splits a byte stream into lines: chunks may end mid-line or mid-character (the streaming decoder
 * holds partial UTF-8 sequences back) and may hold many lines. A line growing past `max` bytes is
 * reported once, as soon as it does (not at its newline: the point is to bound memory), and its
 * remainder is skipped.
 */
class LineReader {
  private readonly decoder = new StringDecoder('utf8');
  private parts: string[] = [];
  private bytes = 0;
  private skipping = false;

  constructor(
    private readonly max: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: (head: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.feed(this.decoder.write(chunk));
  }

  /** End of stream: an unterminated last line is still delivered. */
  end(): void {
    this.feed(this.decoder.end());
    if (!this.skipping && this.parts.length > 0) this.onLine(this.parts.join(''));
    this.parts = [];
  }

  private feed(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const piece = nl < 0 ? text.slice(start) : text.slice(start, nl);
      if (!this.skipping && piece !== '') {
        this.parts.push(piece);
        this.bytes += Buffer.byteLength(piece);
        if (this.bytes > this.max) {
          const head = this.parts.join('');
          this.skipping = true;
          this.parts = [];
          this.onOverflow(head);
        }
      }
      if (nl < 0) return;
      if (!this.skipping) this.onLine(this.parts.join(''));
      this.parts = [];
      this.bytes = 0;
      this.skipping = false;
      start = nl + 1;
    }
  }
}
