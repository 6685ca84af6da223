/**
 * The journal on a real full disk (a 64 KiB tmpfs filled to ENOSPC): a failed write degrades
 * instead of throwing, is cut back, logged once, retried at each flush and recovered from once
 * space returns; a run that never wrote leaves no empty segment; entries beyond the waiting limit
 * become one `gap` entry. The demand trace recorder likewise keeps its rows and retries. Skipped, saying why, where tmpfs cannot be mounted (not root).
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, readJournal } from '../../live/journal.ts';
import { DemandRecorder } from '../../live/recorder.ts';
import { readDemandTrace } from '../../formats/workload-traces.ts';
import { smallDisk, tmpfsUnavailable, type SmallDisk } from './tmpfs.ts';

const why = tmpfsUnavailable();
if (why) console.warn(`journal-disk-full tests skipped: ${why}`);

let disk: SmallDisk | undefined;
afterEach(() => {
  disk?.remove();
  disk = undefined;
});

function journalOnFullDisk(fillFirst: boolean) {
  disk = smallDisk(64);
  const dir = join(disk.dir, 'journal');
  mkdirSync(dir, { mode: 0o700 });
  if (fillFirst) disk.fill();
  return { disk, dir, logged: [] as string[] };
}

describe.skipIf(why !== undefined)('journal on a full disk (real tmpfs)', () => {
  it('degrades on ENOSPC mid-run, cuts the partial batch, logs once, and recovers when space returns', () => {
    const { disk, dir, logged } = journalOnFullDisk(false);
    const j = Journal.open(dir, { log: (l) => logged.push(l) });
    for (let i = 0; i < 3; i++) j.append({ i });
    expect(j.flush()).toBe(true);
    const durable = statSync(j.segment).size;
    disk.fill();
    // 5,000 bytes: more than the slack in the segment's last page, so the write is cut short, then refused.
    j.append({ i: 3, pad: 'x'.repeat(5_000) });
    expect(j.flush()).toBe(false);
    expect(j.degraded).toMatchObject({
      code: 'ENOSPC',
      op: 'write',
      file: j.segment,
      attempts: 1,
      waiting_entries: 1,
      lost_entries: 0,
      stuck: false,
    });
    expect(statSync(j.segment).size).toBe(durable); // no partial line left before later lines
    j.append({ i: 4 });
    expect(j.flush()).toBe(false);
    expect(j.degraded).toMatchObject({ code: 'ENOSPC', attempts: 2, waiting_entries: 2 });
    expect(logged).toHaveLength(1); // same errno: not logged again
    expect(logged[0]).toMatch(
      new RegExp(
        `^journal ${dir}: cannot write ${j.segment}: ENOSPC \\(.*\\); 1 entries wait in memory; new work is refused; retrying at every flush$`,
      ),
    );

    disk.free();
    expect(j.flush()).toBe(true);
    expect(j.degraded).toBeUndefined();
    expect(logged[1]).toMatch(
      new RegExp(
        `^journal ${dir}: writing again \\(${j.segment}\\) after [0-9.]+ s and 2 failed attempts; 2 waiting entries are durable now$`,
      ),
    );
    j.close();
    const read = readJournal(dir);
    expect(read.entries).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3, pad: 'x'.repeat(5_000) }, { i: 4 }]);
    expect(read.problems).toEqual([]);
  });

  it('opened on a full disk three times: no empty segment left behind, then writes once space returns', () => {
    const { disk, dir, logged } = journalOnFullDisk(true);
    for (let run = 0; run < 3; run++) {
      const j = Journal.open(dir, { log: (l) => logged.push(l) });
      j.append({ run });
      expect(j.flush()).toBe(false);
      expect(j.degraded?.code).toBe('ENOSPC');
      expect(readdirSync(dir)).toEqual([]); // the segment it created and could not write is gone
      j.close();
      expect(readdirSync(dir)).toEqual([]);
    }
    expect(
      logged.filter((l) => l.includes('closing with 1 entries never written (ENOSPC): they are lost')),
    ).toHaveLength(3);
    disk.free();
    const j = Journal.open(dir);
    j.append({ run: 'after' });
    j.close();
    expect(readdirSync(dir)).toEqual(['000001.jsonl']);
    expect(readJournal(dir).entries).toEqual([{ run: 'after' }]);
  });

  it('keeps at most max_waiting_bytes while refused; the rest become one gap entry where they were', () => {
    const { disk, dir } = journalOnFullDisk(true);
    // Each entry is 56 bytes of JSON + 19 of check and newline = 75: two fit in 200, the third does not.
    const j = Journal.open(dir, { max_waiting_bytes: 200, log: () => {} });
    const entry = (i: number) => ({ i, pad: 'x'.repeat(40) });
    expect(JSON.stringify(entry(0))).toHaveLength(56);
    for (let i = 0; i < 10; i++) j.append(entry(i));
    expect(j.flush()).toBe(false);
    expect(j.degraded).toMatchObject({ waiting_entries: 2, lost_entries: 8 });
    disk.free();
    expect(j.flush()).toBe(true);
    j.append(entry(10));
    j.close();
    expect(readJournal(dir).entries).toEqual([entry(0), entry(1), { type: 'gap', lost_entries: 8 }, entry(10)]);
  });
});

describe.skipIf(why !== undefined)('demand trace on a full disk (real tmpfs)', () => {
  it('keeps refused rows in memory, cuts the file back, and writes them in order once space returns', () => {
    disk = smallDisk(64);
    const file = join(disk.dir, 'demand.csv');
    const warned: string[] = [];
    const r = new DemandRecorder(file, 1, { warn: (m) => warned.push(m) });
    r.count('web', 100);
    r.flush(1_000);
    const durable = statSync(file).size;
    disk.fill();
    // 30 profiles of 200-character names: one interval's rows (≈6 KB) overflow the file's last page.
    const names = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(2, '0')}${'p'.repeat(198)}`);
    for (const p of names) r.count(p, 1_500);
    expect(() => r.flush(2_000)).not.toThrow();
    expect(statSync(file).size).toBe(durable);
    expect(r.rowsWritten).toBe(1);
    expect(warned).toEqual([
      expect.stringMatching(
        new RegExp(
          `^demand trace ${file}: cannot write: ENOSPC \\(.*\\); 31 rows wait in memory, retrying at every flush$`,
        ),
      ),
    ]);
    disk.free();
    r.flush(3_000);
    expect(warned[1]).toBe(`demand trace ${file}: writing again (ENOSPC is over)`);
    r.close(3_000);
    expect(r.rowsWritten).toBe(1 + 31 + 31);
    const rows = readDemandTrace(file).rows;
    expect(rows.map((x) => x.t_s)).toEqual([0, ...Array(31).fill(1), ...Array(31).fill(2)]);
    expect(rows.filter((x) => x.t_s === 1 && x.count === 1)).toHaveLength(30);
  });
});
