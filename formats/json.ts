/**
 * Bounds on JSON input, checked before JSON.parse sees the text.
 *
 * JSON.parse itself copes with deep nesting, but everything after it recurses: validation, path
 * walks, JSON.stringify of a payload handed to a worker. A 60 KB body of 30,000 nested arrays
 * parses and then overflows the stack somewhere else. So the depth is measured first, by one
 * iterative pass that skips strings, and a text nested deeper than the limit is refused with the
 * place where it went too deep.
 *
 * @example
 * nestingTooDeep('{"a":[[1]]}', 2); // → { offset: 6, depth: 3 }
 * nestingTooDeep('{"a":[1]}', 2);   // → undefined
 */

/** Deepest nesting fgo accepts in any JSON it reads: configs nest 5 levels, requests 3. */
export const MAX_JSON_DEPTH = 64;

/** Where a JSON text first nests deeper than `max_depth` (offset of the opening bracket), if it does. */
export function nestingTooDeep(text: string, max_depth: number): { offset: number; depth: number } | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max_depth) return { offset: i, depth };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return undefined;
}

/** 1-based line and column of a character offset, for error messages. */
export function lineColAt(text: string, offset: number): { line: number; col: number } {
  let line = 1,
    start = 0;
  for (let i = 0; i < offset && i < text.length; i++)
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      start = i + 1;
    }
  return { line, col: offset - start + 1 };
}
