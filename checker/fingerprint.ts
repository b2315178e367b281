/**
 * 64-bit fingerprints of byte strings, as two independent 32-bit lanes, by tabulation (Zobrist)
 * hashing: the fingerprint is the XOR, over the positions, of a random word per (position, byte
 * value). Two distinct strings differ at some position, and that position's words are
 * independent of the rest, so a pair collides with probability 2^-64, as with a random function.
 * And a fingerprint follows a change of bytes without reading the others: changing byte i from
 * a to b XORs in T[i][a] ^ T[i][b] (see `fingerprintTables`), which lets the search fingerprint
 * a successor from the bytes a step wrote.
 *
 * The tables are a fixed function of the position and the value (an integer mixer of the index,
 * not a generator's sequence), so every process, worker and checkpoint sees the same words.
 */

/** Words of the high and low lanes, at [position * 256 + value]; grown on demand. */
let HI = new Int32Array(0);
let LO = new Int32Array(0);

function word(index: number, seed: number): number {
  let h = Math.imul(index ^ seed, 0x9e3779b1) ^ seed;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // never zero: a byte's word is what sets strings that differ only in length apart
  return h === 0 ? 0x6b43a9b5 : h;
}

function grow(positions: number): void {
  const n = Math.max(positions, 2 * (HI.length >>> 8), 64) * 256;
  const hi = new Int32Array(n);
  const lo = new Int32Array(n);
  hi.set(HI);
  lo.set(LO);
  for (let k = HI.length; k < n; k++) {
    hi[k] = word(k, 0x9747b28c);
    lo[k] = word(k, 0x5bd1e995);
  }
  HI = hi;
  LO = lo;
}

/** Writes the fingerprint of `bytes` into out[0] (high lane) and out[1] (low lane). */
export function fingerprint(bytes: Uint8Array, out: Uint32Array): void {
  const n = bytes.length;
  if (n * 256 > HI.length) grow(n);
  const hi = HI;
  const lo = LO;
  let h = 0;
  let l = 0;
  for (let i = 0, o = 0; i < n; i++, o += 256) {
    const k = o + bytes[i];
    h ^= hi[k];
    l ^= lo[k];
  }
  out[0] = h;
  out[1] = l;
}

/**
 * The tables covering strings of up to `length` bytes, for incremental fingerprints: replacing
 * byte i's value a by b changes the lanes by hi[i*256+a] ^ hi[i*256+b] and lo[...] likewise.
 */
export function fingerprintTables(length: number): { readonly hi: Int32Array; readonly lo: Int32Array } {
  if (length * 256 > HI.length) grow(length);
  return { hi: HI, lo: LO };
}

/**
 * The fingerprint of `bytes` with values[i] written at offsets[i], from the fingerprint of
 * `bytes` itself (`p0`, `p1`, its lanes as signed integers), into out[0] and out[1] (signed);
 * returns whether any byte changes. Reads only the written positions.
 */
export function editedFingerprint(bytes: Uint8Array, offsets: ArrayLike<number>, values: ArrayLike<number>, p0: number, p1: number, out: Int32Array): boolean {
  if (bytes.length * 256 > HI.length) grow(bytes.length);
  const hi = HI;
  const lo = LO;
  let h = p0;
  let l = p1;
  let changed = false;
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i];
    const a = bytes[o];
    const b = values[i];
    if (a !== b) {
      const k = o << 8;
      h ^= hi[k + a] ^ hi[k + b];
      l ^= lo[k + a] ^ lo[k + b];
      changed = true;
    }
  }
  out[0] = h;
  out[1] = l;
  return changed;
}

/** Upper bound on the probability of any fingerprint collision: each of `lookups` probes meets at most `stored` others. */
export function collisionProbability(stored: number, lookups: number): number {
  return Math.min(1, (stored * lookups) / 2 ** 64);
}
