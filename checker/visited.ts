/**
 * Visited sets of 64-bit fingerprints: exact (FingerprintSet) or bitstate (supertrace): a bit
 * array where each state sets k bits; a state is taken as seen when all its bits are set, so some
 * states are wrongly skipped, with a probability the checker estimates and reports.
 */
import { FingerprintSet } from './fpset.ts';

export interface VisitedSet {
  /** Adds a fingerprint; true if it was not there. */
  add(hi: number, lo: number): boolean;
  readonly size: number;
  readonly bytes: number;
}

export { FingerprintSet };

export class BitstateSet implements VisitedSet {
  private readonly bits: Uint32Array;
  private readonly m: number;
  private count = 0;
  /** Running sum of the probability that an insertion was wrongly taken as a duplicate. */
  private omitted = 0;

  /**
   * @param bytes size of the bit array
   * @param k bits per state
   */
  constructor(
    bytes: number,
    readonly k = 3,
  ) {
    const words = Math.max(1, Math.floor(bytes / 4));
    this.bits = new Uint32Array(words);
    this.m = words * 32;
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.bits.byteLength;
  }

  add(hi: number, lo: number): boolean {
    // double hashing: bit i = (h1 + i * h2) mod m
    const h1 = hi >>> 0;
    const h2 = (lo | 1) >>> 0;
    let fresh = false;
    for (let i = 0; i < this.k; i++) {
      const bit = (h1 + i * h2) % this.m;
      const w = bit >>> 5;
      const mask = 1 << (bit & 31);
      if ((this.bits[w] & mask) === 0) {
        fresh = true;
        this.bits[w] |= mask;
      }
    }
    if (fresh) {
      // the chance that a new state had all its bits set already, at this fill
      this.omitted += (1 - Math.exp((-this.k * this.count) / this.m)) ** this.k;
      this.count++;
    }
    return fresh;
  }

  /** The bit array (for checkpoints). */
  raw(): Uint32Array {
    return this.bits;
  }

  get omittedSoFar(): number {
    return this.omitted;
  }

  static fromRaw(bits: Uint32Array, k: number, count: number, omitted: number): BitstateSet {
    const s = new BitstateSet(bits.byteLength, k);
    s.bits.set(bits);
    s.count = count;
    s.omitted = omitted;
    return s;
  }

  /** Expected fraction of the reachable states the run visited (1 - expected omissions / states seen). */
  get expectedCoverage(): number {
    return this.count === 0 ? 1 : this.count / (this.count + this.omitted);
  }

  /** Bits per stored state (SPIN's "hash factor"). */
  get hashFactor(): number {
    return this.count === 0 ? Infinity : this.m / this.count;
  }
}
