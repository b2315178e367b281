/**
 * A set of 64-bit fingerprints in one open-addressed Uint32Array (two words per slot, linear
 * probing, slot chosen by multiply-shift so the capacity need not be a power of two). It stores
 * fingerprints only: 8 bytes per slot, grown by half when three quarters full, so the load stays
 * between 1/2 and 3/4 and a stored state costs 10.7 to 16 bytes.
 */
/**
 * Linear probing in a table of (hi, lo) pairs with `cap` slots: the slot holding the fingerprint,
 * or, if it is absent, -(slot + 1) for the empty slot where it belongs. The all-zero pair marks
 * an empty slot, so callers keep the zero fingerprint apart.
 */
export function probe(t: Uint32Array, cap: number, hi: number, lo: number): number {
  let i = homeSlot(hi, lo, cap);
  for (;;) {
    const h = t[2 * i];
    const l = t[2 * i + 1];
    if (h === hi && l === lo) return i;
    if (h === 0 && l === 0) return -i - 1;
    i = i + 1 === cap ? 0 : i + 1;
  }
}

/** Where linear probing for a fingerprint starts in a table of `cap` slots (multiply-shift: any capacity). */
export function homeSlot(hi: number, lo: number, cap: number): number {
  return Math.floor((((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0) * cap) / 4294967296);
}

export class FingerprintSet {
  private table: Uint32Array;
  private cap: number;
  private count = 0;
  /** The all-zero fingerprint marks an empty slot, so its presence is kept apart. */
  private hasZero = false;

  constructor(initialCapacity = 1 << 16) {
    this.cap = Math.max(4, Math.ceil(initialCapacity));
    this.table = new Uint32Array(this.cap * 2);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes of the table. */
  get bytes(): number {
    return this.table.byteLength;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Adds the fingerprint; returns true if it was not there. */
  add(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) {
      if (this.hasZero) return false;
      this.hasZero = true;
      this.count++;
      return true;
    }
    if ((this.count + 1) * 4 > this.cap * 3) this.grow();
    const at = probe(this.table, this.cap, hi, lo);
    if (at >= 0) return false;
    const i = -at - 1;
    this.table[2 * i] = hi;
    this.table[2 * i + 1] = lo;
    this.count++;
    return true;
  }

  has(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) return this.hasZero;
    return probe(this.table, this.cap, hi, lo) >= 0;
  }

  /** Every stored fingerprint, as (hi, lo) pairs (for checkpoints). */
  *entries(): Generator<[number, number]> {
    if (this.hasZero) yield [0, 0];
    const t = this.table;
    for (let i = 0; i < t.length; i += 2) if (t[i] !== 0 || t[i + 1] !== 0) yield [t[i], t[i + 1]];
  }

  private grow(): void {
    const old = this.table;
    this.cap = Math.ceil(this.cap * 1.5);
    this.table = new Uint32Array(this.cap * 2);
    this.count = this.hasZero ? 1 : 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.add(old[i], old[i + 1]);
  }
}

/**
 * Fingerprints with a 32-bit value each (the state's id), for searches that must find a state
 * again (partial-order reduction keeps a sleep set per state). 12 bytes per slot.
 */
export class FingerprintMap {
  private table: Uint32Array;
  private values: Uint32Array;
  private cap: number;
  private count = 0;
  private zeroValue = -1;

  constructor(initialCapacity = 1 << 16) {
    this.cap = Math.max(4, Math.ceil(initialCapacity));
    this.table = new Uint32Array(this.cap * 2);
    this.values = new Uint32Array(this.cap);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.table.byteLength + this.values.byteLength;
  }

  /** Adds the fingerprint with `value`; returns -1 if it was new, else the value stored with it. */
  put(hi: number, lo: number, value: number): number {
    if (hi === 0 && lo === 0) {
      if (this.zeroValue >= 0) return this.zeroValue;
      this.zeroValue = value;
      this.count++;
      return -1;
    }
    if ((this.count + 1) * 4 > this.cap * 3) this.grow();
    const at = probe(this.table, this.cap, hi, lo);
    if (at >= 0) return this.values[at];
    const i = -at - 1;
    this.table[2 * i] = hi;
    this.table[2 * i + 1] = lo;
    this.values[i] = value;
    this.count++;
    return -1;
  }

  /** The value stored with the fingerprint, or -1 if it is absent. */
  get(hi: number, lo: number): number {
    if (hi === 0 && lo === 0) return this.zeroValue;
    const at = probe(this.table, this.cap, hi, lo);
    return at >= 0 ? this.values[at] : -1;
  }

  /** VisitedSet: adds with the value 0. */
  add(hi: number, lo: number): boolean {
    return this.put(hi, lo, 0) < 0;
  }

  private grow(): void {
    const old = this.table;
    const oldValues = this.values;
    this.cap = Math.ceil(this.cap * 1.5);
    this.table = new Uint32Array(this.cap * 2);
    this.values = new Uint32Array(this.cap);
    this.count = this.zeroValue >= 0 ? 1 : 0;
    for (let i = 0; i < oldValues.length; i++) if (old[2 * i] !== 0 || old[2 * i + 1] !== 0) this.put(old[2 * i], old[2 * i + 1], oldValues[i]);
  }
}
