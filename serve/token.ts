/**
 * The bearer token guarding the live API's mutating routes. The agent runs as root, so the token
 * file is treated like an SSH key: created without a window where another user could read or
 * replace it, and refused (with the exact fix) when its permissions or type look wrong rather than
 * silently trusted or "repaired".
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Tokens shorter than this (after trimming) are refused: too easy to guess or a truncated file. */
export const MIN_TOKEN_CHARS = 32;

/**
 * Read the token at `path`, or create one (32 random bytes as hex) when the file is missing.
 *
 * Creation uses flag 'wx' (O_CREAT|O_EXCL): if anything appears at `path` between our check and the
 * write — another agent, or an attacker's symlink — the open fails instead of following it, and we
 * fall back to reading (and vetting) what is there. Mode 0600 is passed to open() itself so the file
 * is never world-readable, not even for an instant.
 */
export function loadOrCreateToken(path: string): { token: string; created: boolean } {
  if (!exists(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const token = randomBytes(32).toString('hex');
    try {
      writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
      return { token, created: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Lost a race: someone created it after our check. Vet theirs like any existing file.
    }
  }
  return { token: readToken(path), created: false };
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function refuse(path: string, why: string, fix: string): never {
  throw new Error(`token file ${path}: ${why}; fix: ${fix}`);
}

function readToken(path: string): string {
  const st = lstatSync(path);
  if (st.isSymbolicLink())
    refuse(
      path,
      'is a symlink, refusing to follow it',
      `rm ${path} (a new token is created on the next start) or point the agent at the real file`,
    );
  if (!st.isFile()) refuse(path, 'is not a regular file', `rm -r ${path} (a new token is created on the next start)`);
  if ((st.mode & 0o077) !== 0) {
    refuse(
      path,
      `is accessible by group/others (mode ${(st.mode & 0o777).toString(8).padStart(3, '0')})`,
      `chmod 600 ${path}`,
    );
  }
  const euid = process.geteuid?.();
  if (euid !== undefined && st.uid !== euid)
    refuse(path, `is owned by uid ${st.uid}, not by the agent (uid ${euid})`, `chown ${euid} ${path}`);
  // O_NOFOLLOW plus comparing the inode closes the gap between lstat and open: a file swapped for a
  // symlink in between fails with ELOOP, one swapped for another file is caught by the inode check.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const f = fstatSync(fd);
    if (f.ino !== st.ino || f.dev !== st.dev)
      refuse(path, 'changed while being read', 'make sure nothing else rewrites it, then restart');
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const token = text.trim();
  if (token.length === 0) refuse(path, 'is empty', `rm ${path} (a new token is created on the next start)`);
  if (token.length < MIN_TOKEN_CHARS) {
    refuse(
      path,
      `token is ${token.length} chars, shorter than ${MIN_TOKEN_CHARS}`,
      `rm ${path} (a new token is created on the next start) or write a longer one, e.g. openssl rand -hex 32 > ${path}`,
    );
  }
  // Anything outside visible ASCII could never arrive intact in an HTTP header, so it could never match.
  if (!/^[\x21-\x7e]+$/.test(token))
    refuse(path, 'token has spaces or non-ASCII characters', `openssl rand -hex 32 > ${path}`);
  return token;
}

/**
 * Does `Authorization: <header>` carry `Bearer <token>`? Both sides are hashed to fixed-size SHA-256
 * digests before timingSafeEqual: a plain `===` returns at the first differing byte, letting a
 * local attacker recover the token byte by byte from response times, and timingSafeEqual on the
 * raw strings would throw on (and so leak) a length mismatch.
 */
export function checkBearer(header: string | undefined, token: string): boolean {
  if (header === undefined || token.length === 0) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const given = m?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && m !== null;
}
