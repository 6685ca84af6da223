/**
 * The API's connection table (serve/limits.ts ConnectionGuard) on its own, with real loopback
 * sockets and a hand-driven clock: who is closed when a newcomer finds the table full.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionGuard } from '../../serve/limits.ts';

let server: Server;
const accepted: Socket[] = [];
const clients: Socket[] = [];
let waiting: ((s: Socket) => void) | undefined;

beforeAll(async () => {
  server = createServer((s) => (waiting ? waiting(s) : accepted.push(s)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await new Promise((r) => server.close(r));
});

/** A real connection to the loopback server: its server-side socket. */
async function connect(): Promise<Socket> {
  const got = new Promise<Socket>((r) => (waiting = r));
  const { port } = server.address() as { port: number };
  const c = createConnection({ host: '127.0.0.1', port });
  c.on('error', () => {});
  clients.push(c);
  const s = await got;
  waiting = undefined;
  return s;
}

function table(max_connections: number) {
  let t_ms = 0;
  const shed: string[] = [];
  const guard = new ConnectionGuard(
    { max_connections, max_connections_per_address: max_connections, busy_grace_ms: 2_000 },
    (r) => shed.push(r),
    () => t_ms,
  );
  const open = async () => {
    const s = await connect();
    return { s, admitted: guard.admit(s) };
  };
  return { guard, shed, open, at: (ms: number) => (t_ms = ms) };
}

describe('ConnectionGuard eviction order', () => {
  it('closes an idle connection before an older anonymous request past its grace', async () => {
    const { guard, open, at, shed } = table(2);
    const healthz = (await open()).s;
    guard.mark(healthz, 'busy'); // at 0 ms: an anonymous request, slow to finish on a busy host
    at(1_000);
    const idle = (await open()).s; // at 1 s: a connection that has sent nothing
    at(5_000); // the request is 5 s old, past its 2-s grace; the idle connection is younger
    expect((await open()).admitted).toBe(true);
    expect([idle.destroyed, healthz.destroyed, shed]).toEqual([true, false, ['evicted']]);
  });

  it('closes an anonymous request past its grace when no connection is idle, never one within it or a trusted one', async () => {
    const { guard, open, at, shed } = table(2);
    const trusted = (await open()).s;
    guard.mark(trusted, 'trusted');
    const anon = (await open()).s;
    guard.mark(anon, 'busy');
    at(1_500); // within the grace: nobody may be closed, so the newcomer is refused
    expect((await open()).admitted).toBe(false);
    at(2_500); // past it: the anonymous request goes, the trusted one stays
    expect((await open()).admitted).toBe(true);
    expect([anon.destroyed, trusted.destroyed, shed]).toEqual([true, false, ['refused', 'evicted']]);
    expect(guard.size).toBe(2);
  });
});
