/**
 * Named, independent random streams derived from one seed. Each concern draws from its own stream
 * so that, say, an extra retry-jitter draw never shifts which node the placement jitter picks.
 */
import seedrandom from 'seedrandom';

export type StreamName = 'placement' | 'retry' | 'shed';

export interface Streams {
  /** Uniform in [0, 1) from the named stream. */
  next(name: StreamName): number;
}

export function makeStreams(seed: string): Streams {
  const streams = new Map<StreamName, seedrandom.PRNG>();
  return {
    next(name) {
      let s = streams.get(name);
      if (!s) {
        // alea: fast, well-distributed, and seedrandom keeps it stable across versions.
        s = seedrandom.alea(`${seed}/${name}`);
        streams.set(name, s);
      }
      return s();
    },
  };
}
