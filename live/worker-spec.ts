/**
 * How a pool worker is launched, as the agent's config gives it (live/config.ts), and the checks made
 * on it before anything is spawned: argv only (never a shell), an absolute or PATH-looked-up program
 * (a relative path would resolve against wherever the agent runs), an absolute cwd, no NUL bytes
 * anywhere. Specs come from a config file, so types are checked at run time too.
 */
import { isAbsolute } from 'node:path';

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

/**
 * Problems with a spec (empty = fine). Checked by spawn too; specs come from a config file, so types
 * are checked at run time.
 */
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
