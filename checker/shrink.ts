/**
 * Shrinking a counterexample: the generic part. A breadth-first trace is shortest in steps but
 * uses the whole configuration it was found in; shrinking also takes entities away (a page, a
 * domain, a CPU...). The model's side says which smaller configurations there are, how a
 * sequence of steps maps onto each, and whether a sequence still shows the violation; this file
 * drives the search: smaller configurations one at a time, then delta debugging of the steps,
 * to a fixpoint. Everything is deterministic: the same input gives the same result.
 */

/**
 * What a test says of a candidate sequence: null when it does not show the violation, else the
 * sequence as it ran (a subsequence of the candidate: steps that could not run left out, steps
 * after the violation cut off).
 */
export type StepTest<T> = (candidate: readonly T[]) => readonly T[] | null;

/**
 * Delta debugging (Zeller and Hildebrandt's ddmin): a subsequence of `items`, which passes
 * `test`, from which no single step can be removed and still pass (1-minimal). `items` must pass.
 * Subsets are tried before complements, in order, so the result is deterministic.
 */
export function minimiseSteps<T>(items: readonly T[], test: StepTest<T>): readonly T[] {
  let cur = items;
  let n = 2;
  while (cur.length > 0) {
    if (cur.length === 1) {
      const r = test([]);
      return r ?? cur;
    }
    n = Math.min(n, cur.length);
    const chunks = split(cur, n);
    let next: readonly T[] | null = null;
    let nextN = n;
    for (let i = 0; i < chunks.length && !next; i++) {
      next = test(chunks[i]);
      nextN = 2;
    }
    for (let i = 0; i < chunks.length && !next && n > 2; i++) {
      next = test(chunks.filter((_, j) => j !== i).flat());
      nextN = n - 1;
    }
    if (next) {
      cur = next;
      n = Math.max(nextN, 2);
      continue;
    }
    if (n >= cur.length) return cur;
    n = Math.min(2 * n, cur.length);
  }
  return cur;
}

/** `xs` in `n` consecutive chunks of nearly equal sizes. */
function split<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = start + Math.floor((xs.length - start) / (n - i));
    out.push(xs.slice(start, end));
    start = end;
  }
  return out;
}

/** A smaller configuration, one entity fewer, and how steps of the larger one map onto it. */
export interface Reduction<C, T> {
  /** What was taken away, e.g. "page 2". */
  readonly label: string;
  readonly config: C;
  /** The steps on the smaller configuration: those that name the entity are left out, the others renamed. */
  map(items: readonly T[]): readonly T[];
}

export interface Shrinkable<C, T> {
  /** The configurations one entity smaller than `config`, in the order to try them. */
  reductions(config: C): readonly Reduction<C, T>[];
  /** A measure of a configuration that every reduction makes strictly smaller (so shrinking ends). */
  size(config: C): number;
  /** Whether the steps show the violation on the configuration (see StepTest). */
  test(config: C, items: readonly T[]): readonly T[] | null;
}

export interface Shrunk<C, T> {
  readonly config: C;
  readonly items: readonly T[];
  /** The reductions kept, in order. */
  readonly removed: readonly string[];
  /** How many candidates were tested. */
  readonly tests: number;
}

/**
 * Shrinks a failing sequence: tries the smaller configurations one entity at a time and keeps the
 * first on which the mapped steps still fail, again and again; when none does, drops the steps
 * not needed (minimiseSteps); when that removed some, tries the configurations again. The result
 * never has more steps than the input, nor a larger configuration. Returns null when the input
 * itself does not fail.
 */
export function shrink<C, T>(s: Shrinkable<C, T>, config: C, items: readonly T[]): Shrunk<C, T> | null {
  let tests = 0;
  const test = (c: C, xs: readonly T[]) => {
    tests++;
    return s.test(c, xs);
  };
  const first = test(config, items);
  if (!first) return null;
  let cur = { config, items: first };
  const removed: string[] = [];
  for (;;) {
    let reduced = false;
    for (const r of s.reductions(cur.config)) {
      if (s.size(r.config) >= s.size(cur.config)) continue;
      const run = test(r.config, r.map(cur.items));
      if (run) {
        cur = { config: r.config, items: run };
        removed.push(r.label);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    const c = cur.config;
    const fewer = minimiseSteps(cur.items, (xs) => test(c, xs));
    if (fewer.length === cur.items.length) break;
    cur = { config: c, items: fewer };
  }
  return { ...cur, removed, tests };
}
