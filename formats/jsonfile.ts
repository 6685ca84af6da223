/**
 * Reading JSON input files with errors a person can act on: the file, the line and column, and
 * what is wrong. JSON.parse only reports a character offset; validation errors only a path. This
 * maps both back to lines by scanning the text once and recording where each value starts.
 */
import { InputError } from './errors.ts';
import { MAX_JSON_BYTES, readInputText } from './inputs.ts';
import { lineColAt, MAX_JSON_DEPTH, nestingTooDeep } from './json.ts';

interface Pos {
  line: number;
  col: number;
}

/**
 * Start position of every value in a JSON text, keyed by its path joined with '.'. It recurses
 * once per nesting level, so a text nested deeper than MAX_JSON_DEPTH gives no positions (readJson
 * refuses such a text before anything locates in it).
 */
export function valuePositions(text: string): Map<string, Pos> {
  const out = new Map<string, Pos>();
  if (nestingTooDeep(text, MAX_JSON_DEPTH)) return out;
  let i = 0,
    line = 1,
    col = 1;
  const adv = () => {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
    i++;
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) adv();
  };
  const str = (): string => {
    const start = i;
    adv();
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') adv();
      adv();
    }
    adv();
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    out.set(path, { line, col });
    const c = text[i];
    const join = (k: string | number) => (path === '' ? String(k) : `${path}.${k}`);
    if (c === '{') {
      adv();
      ws();
      while (i < text.length && text[i] !== '}') {
        ws();
        const k = str();
        ws();
        adv(); // ':'
        value(join(k));
        ws();
        if (text[i] === ',') adv();
        ws();
      }
      adv();
    } else if (c === '[') {
      adv();
      ws();
      let n = 0;
      while (i < text.length && text[i] !== ']') {
        value(join(n++));
        ws();
        if (text[i] === ',') adv();
        ws();
      }
      adv();
    } else if (c === '"') str();
    else while (i < text.length && !/[\s,}\]]/.test(text[i] as string)) adv();
  };
  value('');
  return out;
}

/**
 * Parse a JSON file, bounded first: a regular file of at most MAX_JSON_BYTES, nested at most
 * MAX_JSON_DEPTH deep. Every problem names the file (and the line and column where it is one).
 */
export function readJson(file: string): { value: unknown; text: string } {
  return parseJsonText(file, readInputText(file, MAX_JSON_BYTES, 'JSON input'));
}

/** `readJson` of a text already read (`file` names it in messages). */
export function parseJsonText(file: string, text: string): { value: unknown; text: string } {
  const deep = nestingTooDeep(text, MAX_JSON_DEPTH);
  if (deep) {
    const at = lineColAt(text, deep.offset);
    throw new InputError([`${file}:${at.line}:${at.col}: JSON nested deeper than ${MAX_JSON_DEPTH} levels`]);
  }
  try {
    return { value: JSON.parse(text), text };
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const at = m ? lineColAt(text, Number(m[1])) : undefined;
    throw new InputError([
      `${file}${at ? `:${at.line}:${at.col}` : ''}: invalid JSON: ${msg.replace(/^.*?JSON[^:]*: /, '')}`,
    ]);
  }
}

/**
 * Prefix `path: message` problems with file:line:col of the value they name (or of its nearest
 * ancestor present in the file, e.g. for a missing key).
 */
export function locate(file: string, text: string, problems: readonly string[]): string[] {
  const pos = valuePositions(text);
  return problems.map((p) => {
    const m = /^([^:]*): (.*)$/s.exec(p);
    if (!m) return `${file}: ${p}`;
    let path = m[1] === '(top level)' ? '' : (m[1] as string);
    while (!pos.has(path) && path !== '') path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    const at = pos.get(path);
    return `${file}${at ? `:${at.line}:${at.col}` : ''}: ${m[1]}: ${m[2]}`;
  });
}
