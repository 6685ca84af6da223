/**
 * The listen address of the API and of the metrics server: parsing "host:port" / "[v6]:port",
 * telling a loopback host, and listen failures in words an operator can act on.
 */
import { isIPv4 } from 'node:net';

/** The listen address could not be bound; the message is one line for the operator. */
export class ListenError extends Error {}

/** "host:port" or "[v6]:port" → parts. Unbracketed IPv6 is refused: "::1:80" is ambiguous. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(s) ?? /^([^:[\]]*):([^:]*)$/.exec(s);
  if (!m) {
    throw new Error(`listen address "${s}": expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (IPv6 in brackets)`);
  }
  const host = m[1] ?? '',
    portText = m[2] ?? '';
  if (host.trim() === '' || /\s/.test(host)) throw new Error(`listen address "${s}": empty or blank host`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`listen address "${s}": port must be 0–65535 (0 picks a free port)`);
  }
  return { host, port: Number(portText) };
}

/** 127.0.0.0/8, ::1 (also spelled out or IPv4-mapped) and localhost. */
export function isLoopback(host: string): boolean {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (h.startsWith('::ffff:')) h = h.slice(7);
  return isIPv4(h) && h.startsWith('127.');
}

/** Listen failures in words an operator can act on. */
export function listenError(listen: string, e: NodeJS.ErrnoException): ListenError {
  const why: Record<string, string> = {
    EADDRINUSE: 'address already in use (another process listens there)',
    EACCES: 'permission denied (ports below 1024 need root)',
    EADDRNOTAVAIL: 'not an address of this host',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
  };
  return new ListenError(`cannot listen on ${listen}: ${why[e.code ?? ''] ?? e.message}`);
}
