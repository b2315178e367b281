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

/** A node of the tree: an inner node tests the byte at `offset`; a leaf (offset -1) holds the result. */
export class PathNode<T> {
  /** Children by the value of the byte tested (inner nodes). */
  kids: (PathNode<T> | undefined)[] = [];
  /** Leaves: the offsets written and their final values, and what the step produced. */
  offsets: Int32Array = EMPTY;
  values: Uint8Array = EMPTY_BYTES;
  outcome: T | undefined = undefined;
  /** Kept for the checker (what it derived from this step outcome). */
  memo: unknown = undefined;
  constructor(readonly offset: number) {}
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

/** The tree of one step function (say, one action's step), grown path by path. */
export class DecisionTree<T> {
  root: PathNode<T> | undefined = undefined;
  nodes = 0;
  leaves = 0;

  /** The leaf for a state, or undefined when no recorded path matches it yet. */
  find(state: Uint8Array): PathNode<T> | undefined {
    let n = this.root;
    while (n !== undefined && n.offset >= 0) n = n.kids[state[n.offset]];
    return n;
  }

  /**
   * Adds a recorded path with its leaf. Throws when the recording contradicts the tree (the same
   * bytes read so far, yet another byte read next): the code read something besides the bytes.
   */
  add(rec: Recording, offsets: readonly number[], values: ArrayLike<number>, result: T): PathNode<T> {
    const { readOffsets, readValues } = rec;
    let parent: PathNode<T> | undefined = undefined;
    let value = 0;
    let n = this.root;
    for (let i = 0; i <= readOffsets.length; i++) {
      const want = i < readOffsets.length ? readOffsets[i] : -1;
      if (n === undefined) {
        n = new PathNode<T>(want);
        if (want >= 0) this.nodes++;
        else this.leaves++;
        if (parent === undefined) this.root = n;
        else {
          while (parent.kids.length <= value) parent.kids.push(undefined);
          parent.kids[value] = n;
        }
      } else if (n.offset !== want) {
        throw new Error(
          `a step is not a function of the bytes it reads: after the same ${i} byte(s) it read ${n.offset < 0 ? 'nothing more' : `byte ${n.offset}`} once and ${want < 0 ? 'nothing more' : `byte ${want}`} now`,
        );
      }
      if (want < 0) break;
      parent = n;
      value = readValues[i];
      n = n.kids[value];
    }
    const leaf = n!;
    // most leaves write nothing (enabledness tests, failing calls): they share the empty arrays
    leaf.offsets = offsets.length ? Int32Array.from(offsets) : EMPTY;
    leaf.values = values.length ? Uint8Array.from(values) : EMPTY_BYTES;
    leaf.outcome = result;
    return leaf;
  }
}
