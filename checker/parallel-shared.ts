/**
 * The data structures of the parallel search (parallel.ts, parallel-worker.ts): the visited set
 * in shared memory, a worker's new states of the level, and the order of their keys.
 */
import { homeSlot } from './fpset.ts';

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

/** Byte strings stored end to end, in shared memory: other threads read them as they are. */
export class Arena {
  bytes: Uint8Array;
  used = 0;
  constructor(capacity = 1 << 16) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(capacity));
  }
  /** Appends src[off, off + len); returns where it starts. */
  append(src: Uint8Array, off: number, len: number): number {
    if (this.used + len > this.bytes.length) {
      const b = new Uint8Array(new SharedArrayBuffer(Math.max(this.bytes.length * 2, this.used + len)));
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

/*
 * Words of the header shared by the coordinator and the workers (SharedVisited.head), each on a
 * cache line of its own (16 words apart): the counter is written for every block of states
 * numbered and the claims for every chunk of ranks, while the overflow word is read for every
 * state; on one line, each write would take the line from the core reading the others.
 */
/** States numbered so far (blocks of numbers claimed by the workers; see SharedVisited.visit). */
export const HEAD_COUNT = 0;
/** The zero fingerprint's tag (it cannot sit in a slot: (0, 0) marks empty ones). */
export const HEAD_ZERO = 16;
/** Set by a worker when the level has filled the table past its limit (OVERFLOW_TABLE) or the room for its keys (OVERFLOW_KEYS): the round is run again with more. */
export const HEAD_OVERFLOW = 32;
export const OVERFLOW_TABLE = 1;
export const OVERFLOW_KEYS = 2;
/** Arrivals at the barrier that ends a round. */
export const HEAD_BARRIER = 48;
/** The next frontier rank to claim in the round. */
export const HEAD_CLAIM = 64;
/** The number of the round's first new state (the count when the round was ordered: a worker may start inserting before another starts the round). */
export const HEAD_BASE = 80;
export const HEAD_WORDS = 96;

/**
 * The visited set of the parallel search: one table in shared memory for every worker. A slot is
 * three 32-bit words (hi, lo, tag): tag 0 empty, -1 being written, else the state's number plus
 * one. A worker numbers the states it inserts from blocks of `block` numbers it claims from a
 * shared counter (a block's unused numbers are left unused), so the states new in a level are
 * those numbered from the counter's value at its start (a worker starts a new block with each
 * level: `newBlock`). A worker claims an empty slot by compare-and-swap on its tag, writes the
 * fingerprint, then publishes the number; a worker that meets a slot being written waits the few
 * instructions that takes. Linear probing from FingerprintSet's home slot (homeSlot).
 * Slots never move while workers run: the table grows between rounds (emptied, then reinsert by
 * the workers in parallel), keeping the states numbered below a bound (all of them, or, when a
 * round is run again, those of earlier levels).
 */
export class SharedVisited {
  readonly cap: number;
  /** This thread's block of numbers: the next one, and the end. */
  private next = 0;
  private end = 0;

  constructor(
    /** 3 words per slot. */
    readonly slots: Int32Array,
    /** HEAD_WORDS words, the same for every table of a search. */
    readonly head: Int32Array,
    /** Numbers claimed at a time. */
    readonly block = 1,
  ) {
    this.cap = slots.length / 3;
  }

  /** The next number is claimed from the counter (as it is now): call at a level's start. */
  newBlock(): void {
    this.next = this.end = 0;
  }

  private number(): number {
    if (this.next === this.end) {
      this.next = Atomics.add(this.head, HEAD_COUNT, this.block);
      this.end = this.next + this.block;
    }
    return this.next++;
  }

  static create(cap: number, head: Int32Array = new Int32Array(new SharedArrayBuffer(4 * HEAD_WORDS))): SharedVisited {
    return new SharedVisited(new Int32Array(new SharedArrayBuffer(12 * cap)), head);
  }

  /** Numbers claimed so far (with blocks of 1, the states inserted; the next state's number). */
  get count(): number {
    return Atomics.load(this.head, HEAD_COUNT);
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  /**
   * The number of the state with this fingerprint (halves as signed integers, x | 0), n >= 0; or,
   * when it was absent and this call inserted it, -(n + 1).
   */
  visit(hi: number, lo: number): number {
    if (hi === 0 && lo === 0) return this.visitZero();
    const t = this.slots;
    const cap = this.cap;
    let i = homeSlot(hi, lo, cap);
    for (;;) {
      const at = 3 * i;
      let tag = Atomics.load(t, at + 2);
      if (tag === 0) {
        if (Atomics.compareExchange(t, at + 2, 0, -1) === 0) {
          t[at] = hi;
          t[at + 1] = lo;
          const n = this.number();
          Atomics.store(t, at + 2, n + 1);
          return -n - 1;
        }
        tag = Atomics.load(t, at + 2);
      }
      while (tag === -1) tag = Atomics.load(t, at + 2);
      if (t[at] === hi && t[at + 1] === lo) return tag - 1;
      i = i + 1 === cap ? 0 : i + 1;
    }
  }

  private visitZero(): number {
    const h = this.head;
    let tag = Atomics.load(h, HEAD_ZERO);
    if (tag === 0 && Atomics.compareExchange(h, HEAD_ZERO, 0, -1) === 0) {
      const n = this.number();
      Atomics.store(h, HEAD_ZERO, n + 1);
      return -n - 1;
    }
    while (tag <= 0) tag = Atomics.load(h, HEAD_ZERO);
    return tag - 1;
  }

  /**
   * A table of `cap` slots with this one's states numbered below `below` (the others dropped,
   * and the counter set back to `below` if it was past it). Only while no worker runs.
   */
  rebuilt(cap: number, below: number): SharedVisited {
    const next = this.emptied(cap, below);
    next.reinsert(this.slots, 0, this.cap, below);
    return next;
  }

  /**
   * An empty table of `cap` slots for this one's states numbered below `below`, which
   * `reinsert` then moves into it (in one call, or in ranges of the old slots by several
   * workers at once); the header forgets the other states now.
   */
  emptied(cap: number, below: number): SharedVisited {
    const h = this.head;
    if (h[HEAD_ZERO] - 1 >= below) h[HEAD_ZERO] = 0;
    if (h[HEAD_COUNT] > below) h[HEAD_COUNT] = below;
    return SharedVisited.create(cap, h);
  }

  /**
   * Inserts the states numbered below `below` from slots [s0, s1) of an old table's `from`,
   * keeping their numbers. Workers may run it on disjoint ranges at once (a slot is claimed by
   * compare-and-swap on its tag); nothing may look a state up until every range is done.
   */
  reinsert(from: Int32Array, s0: number, s1: number, below: number): void {
    const u = this.slots;
    const cap = this.cap;
    for (let s = s0; s < s1; s++) {
      const tag = from[3 * s + 2];
      if (tag <= 0 || tag - 1 >= below) continue;
      const hi = from[3 * s];
      const lo = from[3 * s + 1];
      let i = homeSlot(hi, lo, cap);
      while (u[3 * i + 2] !== 0 || Atomics.compareExchange(u, 3 * i + 2, 0, tag) !== 0) i = i + 1 === cap ? 0 : i + 1;
      u[3 * i] = hi;
      u[3 * i + 1] = lo;
    }
  }
}

/** A copy of the first n numbers of `a` in shared memory. */
export function sharedCopy(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n);
  b.set(a.subarray(0, n));
  return b;
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
