/**
 * 64-bit fingerprints of byte strings, as two independent 32-bit lanes (a MurmurHash3-style mix
 * with different seeds). Fast in JavaScript: no BigInt, no allocation.
 */

function mix32(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[i + 2] << 16;
    // fallthrough
    case 2:
      k ^= bytes[i + 1] << 8;
    // fallthrough
    case 1:
      k ^= bytes[i];
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Writes the fingerprint of `bytes` into out[0] (high lane) and out[1] (low lane). */
export function fingerprint(bytes: Uint8Array, out: Uint32Array): void {
  out[0] = mix32(bytes, 0x9747b28c);
  out[1] = mix32(bytes, 0x5bd1e995);
}

/** Upper bound on the probability of any fingerprint collision: each of `lookups` probes meets at most `stored` others. */
export function collisionProbability(stored: number, lookups: number): number {
  return Math.min(1, (stored * lookups) / 2 ** 64);
}
