/**
 * A buffered line writer straight to a file descriptor, for a run's streams (decisions.jsonl,
 * timeseries.csv, forecasts.csv): lines stream out in 1 MiB writes, memory stays flat. With no
 * descriptor (a run with no output directory) it writes nothing.
 */
import { closeSync, writeSync } from 'node:fs';

/** Buffered line writer straight to a file descriptor: decisions stream out, memory stays flat. */
export class LineSink {
  private buf: string[] = [];
  private size = 0;
  constructor(private readonly fd: number | undefined) {}
  write(line: string): void {
    if (this.fd === undefined) return;
    this.buf.push(line);
    this.size += line.length + 1;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.fd === undefined || this.buf.length === 0) return;
    writeSync(this.fd, `${this.buf.join('\n')}\n`);
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
  }
}
