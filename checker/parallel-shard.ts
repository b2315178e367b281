/**
 * The data structures of a parallel-search worker (parallel-worker.ts): its shard of the visited
 * set, the new states of the level with their keys, and the order of those keys.
 */

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

/** Value of a fingerprint found in an earlier level. */
export const OLD = -1;

/**
 * A shard of the visited set and the index of the level's new states, in one open-addressed
 * table of (hi, lo, value) triples of 32-bit signed integers (fingerprint halves are stored as
 * their bit patterns): value OLD for a state of an earlier level, else what the caller stores for
 * a new state (non-negative). Linear probing, slot chosen by multiply-shift (as FingerprintSet);
 * the all-zero fingerprint, which marks empty slots, has a triple of its own after the others.
 */
export class ShardTable {
  /** The triples; read and write t[at + 2] for the value at a position probe() returned. */
  t: Int32Array;
  private cap: number;
  private count = 0;
  private hasZero = false;

  constructor(initialCapacity = 1 << 16) {
    this.cap = Math.max(4, Math.ceil(initialCapacity));
    this.t = new Int32Array(this.cap * 3 + 3);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.t.byteLength;
  }

  /**
   * The position of a fingerprint's triple (its value is t[at + 2]), or, if absent, -(at + 1) for
   * the position where put() stores it. The table may grow here, which moves every triple: use
   * the position before the next probe. `hi` and `lo` as signed 32-bit integers (x | 0).
   */
  probe(hi: number, lo: number): number {
    if (hi === 0 && lo === 0) return this.hasZero ? this.cap * 3 : -(this.cap * 3) - 1;
    if ((this.count + 1) * 4 > this.cap * 3) this.grow();
    const t = this.t;
    const end = this.cap * 3;
    let i = Math.floor((((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0) * this.cap) / 4294967296) * 3;
    for (;;) {
      const h = t[i];
      const l = t[i + 1];
      if (h === hi && l === lo) return i;
      if (h === 0 && l === 0) return -i - 1;
      i += 3;
      if (i === end) i = 0;
    }
  }

  /** Stores a fingerprint where probe() said (-(at + 1)). */
  put(notFound: number, hi: number, lo: number, value: number): void {
    const at = -notFound - 1;
    if (at === this.cap * 3) this.hasZero = true;
    else {
      this.t[at] = hi;
      this.t[at + 1] = lo;
    }
    this.t[at + 2] = value;
    this.count++;
  }

  /** The value of a stored fingerprint, or undefined. */
  get(hi: number, lo: number): number | undefined {
    const at = this.probe(hi | 0, lo | 0);
    return at < 0 ? undefined : this.t[at + 2];
  }

  private grow(): void {
    const old = this.t;
    const oldEnd = this.cap * 3;
    this.cap = Math.ceil(this.cap * 1.5);
    const cap = this.cap;
    const end = cap * 3;
    const t = (this.t = new Int32Array(end + 3));
    t[end + 2] = old[oldEnd + 2];
    for (let s = 0; s < oldEnd; s += 3) {
      const hi = old[s];
      const lo = old[s + 1];
      if (hi === 0 && lo === 0) continue;
      let i = Math.floor((((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0) * cap) / 4294967296) * 3;
      while (t[i] !== 0 || t[i + 1] !== 0) {
        i += 3;
        if (i === end) i = 0;
      }
      t[i] = hi;
      t[i + 1] = lo;
      t[i + 2] = old[s + 2];
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
