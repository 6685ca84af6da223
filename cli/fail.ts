/**
 * How the command line reports an error nobody anticipated: one line, the stack only on request.
 */

/** One line for an error nobody anticipated; the stack only when FGO_DEBUG=1 asks for it. */
export function reportUnexpected(e: unknown): void {
  const debug = process.env.FGO_DEBUG === '1';
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as NodeJS.ErrnoException).code;
  process.stderr.write(
    debug
      ? `${err.stack ?? err.message}\n`
      : `fgo: error: ${err.message.split('\n')[0]}${code && !err.message.includes(code) ? ` (${code})` : ''} (FGO_DEBUG=1 shows where)\n`,
  );
  process.exitCode = 1;
}
