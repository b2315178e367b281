/**
 * The generic shrinker on toys, with exact results: delta debugging of steps (minimiseSteps) and
 * the fixpoint of smaller configurations and fewer steps (shrink).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minimiseSteps, shrink, type Reduction, type Shrinkable } from '../../checker/shrink.ts';
import type { Model } from '../../checker/types.ts';

/** Passes when `needed` occurs in the candidate in order (a monotone test: its minimum is `needed` itself). */
const containsInOrder = (needed: readonly number[]) => (xs: readonly number[]) => {
  let k = 0;
  for (const x of xs) if (x === needed[k]) k++;
  return k === needed.length ? xs : null;
};

describe('minimiseSteps (ddmin)', () => {
  it('keeps exactly the steps a monotone test needs', () => {
    const items = Array.from({ length: 16 }, (_, i) => i);
    expect(minimiseSteps(items, containsInOrder([3, 7, 12]))).toEqual([3, 7, 12]);
    expect(minimiseSteps(items, containsInOrder([0]))).toEqual([0]);
    expect(minimiseSteps(items, containsInOrder([15, 15].slice(0, 1)))).toEqual([15]);
    expect(minimiseSteps(items, containsInOrder([]))).toEqual([]);
  });

  it('uses the run a test reports (steps cut off after the failure)', () => {
    // fails at the first 5; what ran stops there
    const test = (xs: readonly number[]) => {
      const i = xs.indexOf(5);
      return i >= 0 && xs.slice(0, i).includes(2) ? xs.slice(0, i + 1) : null;
    };
    const seen: number[][] = [];
    const r = minimiseSteps([9, 2, 8, 5, 7, 5, 1], (xs) => {
      seen.push([...xs]);
      return test(xs);
    });
    expect(r).toEqual([2, 5]);
    // deterministic: the same candidates in the same order every time
    const again: number[][] = [];
    minimiseSteps([9, 2, 8, 5, 7, 5, 1], (xs) => {
      again.push([...xs]);
      return test(xs);
    });
    expect(again).toEqual(seen);
  });

  it('is 1-minimal: no single step can be removed (any test, random)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 14 }), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }), (items, needed) => {
        const test = containsInOrder(needed);
        fc.pre(test(items) !== null);
        const r = minimiseSteps(items, test);
        expect(test(r)).not.toBeNull();
        expect(r.length).toBe(needed.length);
        for (let i = 0; i < r.length; i++) expect(test(r.filter((_, j) => j !== i))).toBeNull();
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

/**
 * A toy model of `cells` counters: action i increments counter i; the violation is a counter at 3.
 * A smaller configuration has one counter fewer; the steps of the counters after it move down.
 */
type Cells = readonly number[];
const cellsModel = (cells: number): Model<Cells, number, null> => ({
  initialStates: () => [Array.from({ length: cells }, () => 0)],
  actions: (s) => s.map((_, i) => i),
  step: (s, a) => ({ state: s.map((v, i) => (i === a ? v + 1 : v)), outcome: null }),
  encode: (s) => Uint8Array.from(s),
});

/** Runs the steps (matched against the enabled actions, those that are not left out) up to the violation. */
function runCells(cells: number, items: readonly number[]): readonly number[] | null {
  const m = cellsModel(cells);
  let s = m.initialStates()[0];
  const ran: number[] = [];
  for (const a of items) {
    if (!m.actions(s).includes(a)) continue;
    s = m.step(s, a).state;
    ran.push(a);
    if (s.includes(3)) return ran;
  }
  return null;
}

const toy: Shrinkable<number, number> = {
  reductions: (cells) =>
    Array.from({ length: cells }, (_, k): Reduction<number, number> => {
      const gone = cells - 1 - k;
      return { label: `cell ${gone}`, config: cells - 1, map: (xs) => xs.filter((a) => a !== gone).map((a) => (a > gone ? a - 1 : a)) };
    }),
  size: (cells) => cells,
  test: runCells,
};

describe('shrink (configurations, then steps, to a fixpoint)', () => {
  it('takes away every counter but the one that fails, renaming it, and the steps it does not need', () => {
    const r = shrink(toy, 3, [1, 0, 2, 2, 0, 2, 1]);
    // tests: the input; without cell 2 (fails), cell 1 (passes); of two, without cell 1 (fails),
    // cell 0 (passes); of one, without it (fails); then ddmin of [0, 0, 0]: 2 halves, 3 thirds, 3 complements
    expect(r).toEqual({ config: 1, items: [0, 0, 0], removed: ['cell 1', 'cell 0'], tests: 14 });
  });

  it('keeps a trace that is already smallest as it is', () => {
    const r = shrink(toy, 1, [0, 0, 0]);
    expect(r).toEqual({ config: 1, items: [0, 0, 0], removed: [], tests: 10 });
  });

  it('returns null when the input does not fail, and never grows the input', () => {
    expect(shrink(toy, 2, [0, 1, 0])).toBeNull();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 16 }), (cells, raw) => {
        const items = raw.filter((a) => a < cells);
        const r = shrink(toy, cells, items);
        if (runCells(cells, items) === null) {
          expect(r).toBeNull();
          return;
        }
        expect(r!.config).toBe(1);
        expect(r!.items).toEqual([0, 0, 0]);
        expect(r!.items.length).toBeLessThanOrEqual(items.length);
      }),
      { seed: 11, numRuns: 200 },
    );
  });
});
