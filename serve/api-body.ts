/**
 * Request bodies of the live API, bounded before they are parsed: bytes up to a limit (read no
 * further once it is passed), then UTF-8, then the nesting depth, and only then JSON.parse.
 */
import type { IncomingMessage } from 'node:http';
import { lineColAt, MAX_JSON_DEPTH, nestingTooDeep } from '../formats/json.ts';

/** Does the request carry a body (declared or chunked)? */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * The body as a JSON value, or what is wrong with it. Nesting depth is measured before JSON.parse:
 * a deep payload parses, then overflows the stack wherever it is next walked (a worker's request line).
 */
export function parseJsonBody(raw: Buffer): { value: unknown } | { error: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return { error: 'request body is not valid UTF-8' };
  }
  const deep = nestingTooDeep(text, MAX_JSON_DEPTH);
  if (deep) {
    const { line, col } = lineColAt(text, deep.offset);
    return { error: `JSON nested deeper than ${MAX_JSON_DEPTH} levels (line ${line}, column ${col})` };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `invalid JSON: ${(e as Error).message}` };
  }
}

/** The body as bytes, or why it could not be read; stops listening as soon as it passes `limit`. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: Buffer | 'too_large' | 'aborted') => {
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) finish('too_large');
      else chunks.push(c);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onAbort = () => finish('aborted');
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('close', onAbort);
  });
}
