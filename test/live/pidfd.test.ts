/**
 * ExitWatch (live/pidfd.ts) against the real kernel: of several watched processes exactly the ones
 * that exited are reported — including a zombie nobody reaps, which a signal-0 probe takes for
 * alive — a process whose identity check fails after the open is not watched, and no descriptor
 * outlives close(). Linux ≥ 5.3.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitWatch } from '../../live/pidfd.ts';

const children: ChildProcess[] = [];
const watches: ExitWatch[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const w of watches.splice(0)) w.close();
});

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

function watch(): ExitWatch {
  const w = new ExitWatch();
  watches.push(w);
  return w;
}

/** Poll `f` until it returns a value other than undefined (10 s deadline: a busy CI machine). */
async function waitFor<T>(what: string, f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const state = (pid: number) => /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.[1];

describe.skipIf(process.platform !== 'linux')('ExitWatch', () => {
  it('reports exactly the processes that exited, until they are unwatched', async () => {
    const [a, b, c] = [sleeper(), sleeper(), sleeper()];
    const w = watch();
    for (const [k, p] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const)
      expect(w.watch(k, p.pid as number, () => true)).toBe(true);
    expect(w.exited()).toEqual([]);
    b.kill('SIGKILL');
    expect(await waitFor('b reported', () => (w.exited().length ? w.exited() : undefined))).toEqual(['b']);
    w.unwatch('b');
    expect(w.has('b')).toBe(false);
    expect(w.exited()).toEqual([]);
    a.kill('SIGKILL');
    c.kill('SIGKILL');
    expect(
      await waitFor('a and c reported', () => (w.exited().length === 2 ? w.exited() : undefined)).then((ks) =>
        ks.sort(),
      ),
    ).toEqual(['a', 'c']);
  });

  it('reports a zombie nobody reaps, which kill(pid, 0) still finds', async () => {
    // The shell starts `sleep 0.3` in the background, prints its pid and becomes `sleep 300`, which
    // never waits: the short sleep stays a zombie until the long one dies.
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 300'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const pid = await new Promise<number>((resolve) =>
      parent.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    const w = watch();
    expect(w.watch('z', pid, () => true)).toBe(true);
    await waitFor('the zombie', () => (state(pid) === 'Z' ? true : undefined));
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(w.exited()).toEqual(['z']);
  });

  it('close() gives back every descriptor it took (the pidfds and the epoll set)', () => {
    const before = readdirSync('/proc/self/fd').length;
    const w = watch();
    for (let i = 0; i < 5; i++) w.watch(`k${i}`, sleeper().pid as number, () => true);
    expect(readdirSync('/proc/self/fd').length).toBe(before + 6);
    w.unwatch('k0');
    expect(readdirSync('/proc/self/fd').length).toBe(before + 5);
    w.close();
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('does not watch a process whose identity check fails after the open', () => {
    const p = sleeper();
    const w = watch();
    expect(w.watch('x', p.pid as number, () => false)).toBe(false);
    expect(w.has('x')).toBe(false);
    expect(w.watch('gone', 2 ** 22 + 1, () => true)).toBe(false); // above pid_max's ceiling: no such process
  });
});
