/**
 * The data structures of a parallel-search worker (parallel-worker.ts): its shard of the visited
 * set, the new states of the level with their keys, and the order of those keys.
 */
import { probe } from './fpset.ts';

/** A growable Uint32Array. */
export class U32Vec {
  data: Uint32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Uint32Array(Math.max(2, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = v;
  }
  push2(v: number, w: number): void {
    if (this.length + 2 > this.data.length) this.grow();
    this.data[this.length] = v;
    this.data[this.length + 1] = w;
    this.length += 2;
  }
  private grow(): void {
    const d = new Uint32Array(this.data.length * 2);
    d.set(this.data);
    this.data = d;
  }
}

/** Byte strings stored end to end. */
export class Arena {
  bytes: Uint8Array;
  used = 0;
  constructor(capacity = 1 << 16) {
    this.bytes = new Uint8Array(capacity);
  }
  /** Appends src[off, off + len); returns where it starts. */
  append(src: Uint8Array, off: number, len: number): number {
    if (this.used + len > this.bytes.length) {
      const b = new Uint8Array(Math.max(this.bytes.length * 2, this.used + len));
      b.set(this.bytes.subarray(0, this.used));
      this.bytes = b;
    }
    const at = this.used;
    const dst = this.bytes;
    if (len <= 64) for (let i = 0; i < len; i++) dst[at + i] = src[off + i];
    else dst.set(src.subarray(off, off + len), at);
    this.used += len;
    return at;
  }
}

/**
 * A shard of the visited set, and the level's new states in it with a value each (what the
 * worker keeps for such a state: its index in the level and the worker that routed its key).
 *
 * The fingerprints fill an open-addressed table of (hi, lo) pairs, 8 bytes a slot, linear
 * probing, slot chosen by multiply-shift (as FingerprintSet): every successor probes it, so it is
 * kept as small as the sequential search's. A bit per slot says whether its state is new in this
 * level, and only then is the slot's value (in an array beside the table) read: a successor
 * already seen in an earlier level, the common case, costs one probe. The end of a level clears
 * the bits. Callers pass fingerprint halves as signed 32-bit integers (x | 0); the all-zero
 * fingerprint, which marks empty slots, has a slot of its own after the others.
 */
export class ShardTable {
  /** (hi, lo) pairs, unsigned, as FingerprintSet's. */
  private t: Uint32Array;
  private vals: Int32Array;
  /** A bit per slot (and one for the zero fingerprint): new in this level. */
  private fresh: Int32Array;
  private cap: number;
  private count = 0;
  private hasZero = false;

  constructor(initialCapacity = 1 << 16) {
    this.cap = Math.max(4, Math.ceil(initialCapacity));
    this.t = new Uint32Array(this.cap * 2);
    this.vals = new Int32Array(this.cap + 1);
    this.fresh = new Int32Array((this.cap >>> 5) + 1);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.t.byteLength + this.vals.byteLength + this.fresh.byteLength;
  }

  /**
   * The slot of a fingerprint, or, if absent, -(slot + 1) for the slot where put() stores it. The
   * table may grow here, which moves every fingerprint: use the slot before the next probe.
   */
  probe(hi: number, lo: number): number {
    if (hi === 0 && lo === 0) return this.hasZero ? this.cap : -this.cap - 1;
    if ((this.count + 1) * 4 > this.cap * 3) this.grow();
    return probe(this.t, this.cap, hi >>> 0, lo >>> 0);
  }

  /** Whether the state at a slot probe() found is new in this level. */
  isNew(at: number): boolean {
    return (this.fresh[at >>> 5] & (1 << (at & 31))) !== 0;
  }

  /** The value of a state new in this level, at its slot. */
  value(at: number): number {
    return this.vals[at];
  }

  setValue(at: number, value: number): void {
    this.vals[at] = value;
  }

  /** Stores a fingerprint, new in this level, with its value, where probe() said (-(slot + 1)). */
  put(notFound: number, hi: number, lo: number, value: number): void {
    const at = -notFound - 1;
    if (at === this.cap) this.hasZero = true;
    else {
      this.t[2 * at] = hi;
      this.t[2 * at + 1] = lo;
    }
    this.fresh[at >>> 5] |= 1 << (at & 31);
    this.vals[at] = value;
    this.count++;
  }

  /** The level's new states become states of earlier levels. */
  endLevel(): void {
    this.fresh.fill(0);
  }

  private grow(): void {
    const old = this.t;
    const oldVals = this.vals;
    const oldFresh = this.fresh;
    const oldCap = this.cap;
    const cap = (this.cap = Math.ceil(oldCap * 1.5));
    const t = (this.t = new Uint32Array(cap * 2));
    const vals = (this.vals = new Int32Array(cap + 1));
    const fresh = (this.fresh = new Int32Array((cap >>> 5) + 1));
    vals[cap] = oldVals[oldCap];
    if (oldFresh[oldCap >>> 5] & (1 << (oldCap & 31))) fresh[cap >>> 5] |= 1 << (cap & 31);
    for (let s = 0; s < oldCap; s++) {
      const hi = old[2 * s];
      const lo = old[2 * s + 1];
      if (hi === 0 && lo === 0) continue;
      const i = -probe(t, cap, hi, lo) - 1;
      t[2 * i] = hi;
      t[2 * i + 1] = lo;
      if (oldFresh[s >>> 5] & (1 << (s & 31))) {
        fresh[i >>> 5] |= 1 << (i & 31);
        vals[i] = oldVals[s];
      }
    }
  }
}

/**
 * The order of n keys (p, a), given interleaved in `keys`, with every p < size: counting sort on
 * p, then insertion sort on a among equal p (few: the successors of one state).
 */
export function sortByKey(keys: Uint32Array, n: number, size: number): Uint32Array {
  const count = new Uint32Array(size + 1);
  for (let j = 0; j < n; j++) count[keys[2 * j] + 1]++;
  for (let r = 0; r < size; r++) count[r + 1] += count[r];
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[count[keys[2 * j]]++] = j;
  let s = 0;
  while (s < n) {
    const p = keys[2 * order[s]];
    let e = s + 1;
    while (e < n && keys[2 * order[e]] === p) e++;
    for (let i = s + 1; i < e; i++) {
      const x = order[i];
      const ax = keys[2 * x + 1];
      let k = i - 1;
      while (k >= s && keys[2 * order[k] + 1] > ax) {
        order[k + 1] = order[k];
        k--;
      }
      order[k + 1] = x;
    }
    s = e;
  }
  return order;
}
