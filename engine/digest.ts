/**
 * A short, stable digest of a decision's inputs, so a journalled decision can be matched to the
 * exact request and observation it was made from. It walks the known fields in a fixed order and
 * feeds their bits, 32 at a time, to two MurmurHash3-style lanes — no JSON text is built, because
 * on the scheduling hot path the text alone cost more than the decision (85 % of it at 64 nodes).
 * Key order in the input does not matter. Not a security hash; nothing trusts it as one.
 *
 * `fragments` of an observation are left out: they feed health checks, never a placement.
 */
import type { NodeObservation, Observation, PsiLine, PsiSet, Request } from './types.ts';

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex32 = (x: number) => (HEX[x >>> 24] as string) + HEX[(x >>> 16) & 0xff] + HEX[(x >>> 8) & 0xff] + HEX[x & 0xff];

class Hash {
  constructor(
    private a = 0x811c9dc5,
    private b = 0x050c5d1f,
  ) {}

  word(w: number): void {
    let k = Math.imul(w, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    let a = this.a ^ k;
    a = (a << 13) | (a >>> 19);
    this.a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    let b = this.b ^ k;
    b = (b << 17) | (b >>> 15);
    this.b = (Math.imul(b, 9) + 0x38b34ae5) | 0;
  }

  /** A number, or a marker for absent (so {x: undefined} and {} differ from {x: 0}). */
  num(x: number | undefined): void {
    if (x === undefined) return this.word(0xfffffff1);
    f64[0] = x;
    this.word(u32[0] as number);
    this.word(u32[1] as number);
  }

  str(s: string | undefined): void {
    if (s === undefined) return this.word(0xfffffff2);
    this.word(s.length);
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
  }

  list(xs: readonly number[] | undefined): void {
    if (xs === undefined) return this.word(0xfffffff3);
    this.word(xs.length);
    for (const x of xs) this.num(x);
  }

  lanes(): [number, number] {
    return [this.a, this.b];
  }

  hex(): string {
    return hex32(fmix(this.a)) + hex32(fmix(this.b ^ this.a));
  }
}

/** MurmurHash3's finaliser: spreads every input bit over the output. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function line(h: Hash, l: PsiLine | undefined): void {
  if (!l) return h.word(0xfffffff5);
  h.num(l.avg10);
  h.num(l.avg60);
  h.num(l.avg300);
  h.num(l.total_us);
}

function psi(h: Hash, p: PsiSet | undefined): void {
  if (!p) return h.word(0xfffffff4);
  line(h, p.cpu.some);
  line(h, p.cpu.full);
  line(h, p.memory.some);
  line(h, p.memory.full);
  line(h, p.io.some);
  line(h, p.io.full);
}

/** The observation's hash lanes; `requestDigest` continues from them. */
type Lanes = [number, number];

/**
 * Observation digests with each part (system PSI, the node list, the online CPUs) hashed once per
 * object: shells hand the same sample to many decisions, changing only the time, so at 64 nodes
 * re-hashing the unchanged parts would cost more than the decision. Keyed by identity in weak
 * maps, so nothing is kept alive; an object must not be mutated after it was passed in.
 */
export class ObservationDigester {
  private readonly psiParts = new WeakMap<PsiSet, Lanes>();
  private readonly nodeParts = new WeakMap<readonly NodeObservation[], Lanes>();
  private readonly onlineParts = new WeakMap<readonly number[], Lanes>();

  digest(obs: Observation): Lanes {
    // Parts first (each hashed once per object), then the fields in their fixed order: the time,
    // a marker for each absent part, the parts' lanes. No closure or array per call: this runs
    // for every decision.
    const psiLanes = this.psiLanes(obs.psi);
    const nodeLanes = obs.nodes ? this.nodeLanes(obs.nodes) : undefined;
    const onlineLanes = obs.online_cpus ? this.onlineLanes(obs.online_cpus) : undefined;
    const h = new Hash();
    h.num(obs.t_ms);
    if (!nodeLanes) h.word(0xfffffff6);
    if (!onlineLanes) h.word(0xfffffff3);
    h.word(psiLanes[0]);
    h.word(psiLanes[1]);
    if (nodeLanes) {
      h.word(nodeLanes[0]);
      h.word(nodeLanes[1]);
    }
    if (onlineLanes) {
      h.word(onlineLanes[0]);
      h.word(onlineLanes[1]);
    }
    return h.lanes();
  }

  private psiLanes(p: PsiSet): Lanes {
    let l = this.psiParts.get(p);
    if (!l) {
      const x = new Hash();
      psi(x, p);
      this.psiParts.set(p, (l = x.lanes()));
    }
    return l;
  }

  private nodeLanes(nodes: readonly NodeObservation[]): Lanes {
    let l = this.nodeParts.get(nodes);
    if (!l) {
      const x = new Hash();
      x.word(nodes.length);
      for (const n of nodes) {
        x.num(n.id);
        x.num(n.cpu_util);
        x.num(n.mem_free_kb);
        psi(x, n.psi);
      }
      this.nodeParts.set(nodes, (l = x.lanes()));
    }
    return l;
  }

  private onlineLanes(online: readonly number[]): Lanes {
    let l = this.onlineParts.get(online);
    if (!l) {
      const x = new Hash();
      x.list(online);
      this.onlineParts.set(online, (l = x.lanes()));
    }
    return l;
  }
}

/** Digest of a request together with the observation it was decided under. */
export function requestDigest(r: Request, obs: Readonly<Lanes>): string {
  const h = new Hash(obs[0], obs[1]);
  h.str(r.id);
  h.str(r.profile);
  h.num(r.cpus);
  h.num(r.memory_kb);
  h.num(r.priority);
  h.num(r.io_intensive === undefined ? undefined : Number(r.io_intensive));
  h.num(r.memory_home);
  h.num(r.exclusive_cpus);
  h.list(r.allowed_nodes);
  // Only when present, so the digests of requests without a caller stay what they were.
  if (r.caller !== undefined) h.str(r.caller);
  return h.hex();
}
