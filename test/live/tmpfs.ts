/**
 * A small real tmpfs for full-disk tests: mounted at a fresh directory, filled to ENOSPC with one
 * filler file, freed by removing it. Needs root (mount); `tmpfsUnavailable()` says why not.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Fill the disk to ENOSPC; returns the bytes the filler took. */
  fill(): number;
  /** Remove the filler: the space is back. */
  free(): void;
  /** Unmount and remove the mount point (and its parent temp dir). */
  remove(): void;
}

function mount(dir: string, size_kb: number): string | undefined {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size_kb}k,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : `mount -t tmpfs failed: ${(r.stderr || r.error?.message || `status ${r.status}`).trim()}`;
}

function umount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Why a small tmpfs cannot be mounted here (not root, no mount), or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  const base = mkdtempSync(join(tmpdir(), 'fgo-tmpfs-probe-'));
  try {
    const why = mount(base, 64);
    if (!why) umount(base);
    return why;
  } finally {
    rmdirSync(base);
  }
}

/** Mount a `size_kb` tmpfs at `<tmp>/<name>` (0700). Throws if the mount fails. */
export function smallDisk(size_kb = 64, name = 'state'): SmallDisk {
  const base = mkdtempSync(join(tmpdir(), 'fgo-tmpfs-'));
  const dir = join(base, name);
  mkdirSync(dir);
  const why = mount(dir, size_kb);
  if (why) {
    rmSync(base, { recursive: true, force: true });
    throw new Error(why);
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const block = Buffer.alloc(4096, 0x78);
      let bytes = 0;
      try {
        for (;;) bytes += writeSync(fd, block, 0, block.length);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      // The last partial block: byte by byte, until not even one fits.
      const fd2 = openSync(filler, 'a');
      try {
        for (;;) bytes += writeSync(fd2, block, 0, 1);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd2);
      }
      return bytes;
    },
    free() {
      unlinkSync(filler);
    },
    remove() {
      umount(dir);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
