/**
 * Reading a worker's stdout and stderr as bounded lines, so a runaway worker cannot make the agent
 * buffer without limit.
 */
import { StringDecoder } from 'node:string_decoder';

/** Cut to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let end = max;
  while (end > 0 && ((b[end] as number) & 0xc0) === 0x80) end--; // back off to a character boundary
  return b.subarray(0, end).toString('utf8');
}

/**
 * Splits a byte stream into lines: chunks may end mid-line or mid-character (the streaming decoder
 * holds partial UTF-8 sequences back) and may hold many lines. A line growing past `max` bytes is
 * reported once, as soon as it does (not at its newline: the point is to bound memory), and its
 * remainder is skipped.
 */
export class LineReader {
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
