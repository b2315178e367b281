/**
 * Steps compiled into decision trees over the bytes they read.
 *
 * A step of the packed engine is a pure function of the bytes its code reads (the kernel code
 * sees the state only through Memory, and the packed Memory only through the byte array). So the
 * first time an action runs on a state, the same kernel code runs once more on a recording view
 * of the bytes, which logs each byte read for the first time (and not written before in the step)
 * and each byte written. That run is a path: the bytes read, in order, with their values; at its
 * end, a leaf with the bytes written (their final values) and what the step returned. Every later
 * state that agrees on the path's bytes takes the same path (same code, same inputs) and so has
 * the same writes and the same outcome: the step is then a walk of the tree, a copy and a few
 * byte stores, without running the kernel code.
 *
 * The readable model stays the source of truth: tests compare this engine with the packed and
 * readable ones on random traces and on whole searches (equal states, transitions and verdicts).
 * A run whose reads disagree with the tree built so far (code that depends on something other
 * than the bytes) is reported, not papered over.
 */

/** A leaf of a tree: the offsets written and their final values, and what the step produced. */
export class PathNode<T> {
  offsets: Int32Array = EMPTY;
  values: Uint8Array = EMPTY_BYTES;
  outcome: T | undefined = undefined;
  /** Kept for the checker (what it derived from this step outcome). */
  memo: unknown = undefined;
  /** The regions the path read and wrote (partial-order reduction; set by the model that compiles it). */
  footprint: Uint32Array | null = null;
}

const EMPTY = new Int32Array(0);
const EMPTY_BYTES = new Uint8Array(0);

/** One recorded run: the path (first reads of unwritten bytes) and the bytes written. */
export interface Recording {
  readonly readOffsets: readonly number[];
  readonly readValues: readonly number[];
  readonly written: readonly number[];
}

/**
 * A recording view of a byte string: a copy that the code under record reads and writes through a
 * proxy, logging reads and writes by offset. Only element access and `length` are provided (the
 * packed memory uses nothing else on its bytes).
 */
export class ByteRecorder {
  /** The working copy (the step's writes land here). */
  cur: Uint8Array = EMPTY_BYTES;
  readOffsets: number[] = [];
  readValues: number[] = [];
  written: number[] = [];
  /** Per offset: 1 read, 2 written. */
  private mark: Uint8Array = EMPTY_BYTES;
  readonly view: Uint8Array;

  constructor() {
    const self = this;
    this.view = new Proxy(EMPTY_BYTES, {
      get(_t, p) {
        const cur = self.cur;
        if (typeof p === 'string') {
          const i = indexOf(p);
          if (i >= 0) {
            if (self.mark[i] === 0 && i < cur.length) {
              self.mark[i] = 1;
              self.readOffsets.push(i);
              self.readValues.push(cur[i]);
            }
            return cur[i];
          }
          if (p === 'length') return cur.length;
        }
        throw new Error(`the packed memory used ${String(p)} on its bytes, which a recording cannot follow`);
      },
      set(_t, p, v) {
        const i = typeof p === 'string' ? indexOf(p) : -1;
        if (i < 0 || i >= self.cur.length) throw new Error(`the packed memory set ${String(p)} on its bytes, which a recording cannot follow`);
        self.cur[i] = v;
        if ((self.mark[i] & 2) === 0) {
          self.mark[i] |= 2;
          self.written.push(i);
        }
        return true;
      },
    }) as Uint8Array;
  }

  begin(state: Uint8Array): void {
    this.cur = state.slice();
    if (this.mark.length !== state.length) this.mark = new Uint8Array(state.length);
    else this.mark.fill(0);
    this.readOffsets = [];
    this.readValues = [];
    this.written = [];
  }
}

function indexOf(p: string): number {
  const c = p.charCodeAt(0);
  if (c < 48 || c > 57) return -1;
  const i = Number(p);
  return Number.isInteger(i) ? i : -1;
}

/**
 * The tree of one step function (say, one action's step), grown path by path. Inner nodes live in
 * typed arrays (a walk is a few array reads per byte tested, not a chase through objects): node
 * id x > 0 tests byte `off[x]`; its children by that byte's value are `kids[base[x] + v]` for
 * v < cap[x]. A reference is 0 (nothing yet), an inner node's id, or -(i + 1) for leaf i.
 */
export class DecisionTree<T> {
  /** The root's reference. */
  root = 0;
  off = new Int32Array(16);
  base = new Int32Array(16);
  cap = new Int32Array(16);
  kids = new Int32Array(64);
  private used = 0;
  /** Inner nodes (ids 1..nodes). */
  nodes = 0;
  readonly leafNodes: PathNode<T>[] = [];

  get leaves(): number {
    return this.leafNodes.length;
  }

  /** Where a walk from reference `x` over a state's bytes ends: a leaf's reference (< 0), or 0. */
  descend(state: Uint8Array, x: number): number {
    const off = this.off;
    const cap = this.cap;
    const base = this.base;
    const kids = this.kids;
    while (x > 0) {
      const v = state[off[x]];
      x = v < cap[x] ? kids[base[x] + v] : 0;
    }
    return x;
  }

  /** Like descend from the root, but only while the byte tested is one of `known` (a mask by offset). */
  descendKnown(state: Uint8Array, known: Uint8Array): number {
    let x = this.root;
    while (x > 0 && known[this.off[x]] === 1) {
      const v = state[this.off[x]];
      x = v < this.cap[x] ? this.kids[this.base[x] + v] : 0;
    }
    return x;
  }

  leaf(ref: number): PathNode<T> {
    return this.leafNodes[-ref - 1];
  }

  /** The leaf for a state, or undefined when no recorded path matches it yet. */
  find(state: Uint8Array): PathNode<T> | undefined {
    const x = this.descend(state, this.root);
    return x < 0 ? this.leafNodes[-x - 1] : undefined;
  }

  private newInner(offset: number): number {
    const id = ++this.nodes;
    if (id >= this.off.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.off = grow(this.off);
      this.base = grow(this.base);
      this.cap = grow(this.cap);
    }
    this.off[id] = offset;
    this.base[id] = 0;
    this.cap[id] = 0;
    return id;
  }

  /** Makes room for child v of node x (a larger block of children at the end of the arena); returns its slot. */
  private slot(x: number, v: number): number {
    if (v < this.cap[x]) return this.base[x] + v;
    const cap = Math.max(v + 1, 2 * this.cap[x], 4);
    if (this.used + cap > this.kids.length) {
      const k = new Int32Array(Math.max(2 * this.kids.length, this.used + cap));
      k.set(this.kids);
      this.kids = k;
    }
    const from = this.base[x];
    for (let i = 0; i < this.cap[x]; i++) this.kids[this.used + i] = this.kids[from + i];
    this.base[x] = this.used;
    this.cap[x] = cap;
    this.used += cap;
    return this.base[x] + v;
  }

  /**
   * Adds a recorded path with its leaf. Throws when the recording contradicts the tree (the same
   * bytes read so far, yet another byte read next): the code read something besides the bytes.
   */
  add(rec: Recording, offsets: readonly number[], values: ArrayLike<number>, result: T): PathNode<T> {
    const { readOffsets, readValues } = rec;
    let at = -1;
    let x = this.root;
    for (let i = 0; i <= readOffsets.length; i++) {
      const want = i < readOffsets.length ? readOffsets[i] : -1;
      if (x === 0) {
        if (want >= 0) x = this.newInner(want);
        else {
          this.leafNodes.push(new PathNode<T>());
          x = -this.leafNodes.length;
        }
        if (at < 0) this.root = x;
        else this.kids[at] = x;
      } else if ((x > 0 ? this.off[x] : -1) !== want) {
        const had = x > 0 ? this.off[x] : -1;
        throw new Error(
          `a step is not a function of the bytes it reads: after the same ${i} byte(s) it read ${had < 0 ? 'nothing more' : `byte ${had}`} once and ${want < 0 ? 'nothing more' : `byte ${want}`} now`,
        );
      }
      if (want < 0) break;
      at = this.slot(x, readValues[i]);
      x = this.kids[at];
    }
    const leaf = this.leafNodes[-x - 1];
    // most leaves write nothing (enabledness tests, failing calls): they share the empty arrays
    leaf.offsets = offsets.length ? Int32Array.from(offsets) : EMPTY;
    leaf.values = values.length ? Uint8Array.from(values) : EMPTY_BYTES;
    leaf.outcome = result;
    return leaf;
  }
}
