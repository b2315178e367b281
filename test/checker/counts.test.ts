/** Tiny models with known counts and visit structure. */
import { describe, expect, it } from 'vitest';
import { check, replayPath, type ReachableProperty } from '../../checker/index.ts';
import { binaryTreeModel, type TreeNode } from '../toys/binaryTree.ts';
import { counterModel } from '../toys/counter.ts';
import { diamondsModel, type DiamondNode } from '../toys/diamonds.ts';
import { twoInitsModel, type XState } from '../toys/twoInits.ts';
import { withoutDecode } from '../toys/util.ts';

describe('counter mod N', () => {
  it.each([1, 2, 5, 17, 1000])('N=%i: N states, N transitions, depth N-1, one state per level', (n) => {
    const r = check(counterModel(n), []);
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(n);
    expect(r.stats.transitions).toBe(n);
    expect(r.stats.depth).toBe(n - 1);
    expect(r.stats.levels).toEqual(new Array(n).fill(1));
    expect(r.exhausted).toBe(true);
    expect(r.cutBy).toBeNull();
    expect(r.stats.queued).toBe(0);
  });

  it('N=10 without wrap (a line): 10 states, 9 transitions, depth 9', () => {
    const r = check(counterModel(10, { wrap: false }), []);
    expect(r.stats.distinctStates).toBe(10);
    expect(r.stats.transitions).toBe(9);
    expect(r.stats.depth).toBe(9);
    expect(r.stats.levels).toHaveLength(10);
  });

  it('N=100 000 (past the initial 65 536 parent links and fingerprint slots): exact counts, path to the last state has 99 999 steps', () => {
    const last: ReachableProperty<number> = { kind: 'reachable', name: 'last', description: 'N-1', holds: (s) => s === 99_999 };
    const model = counterModel(100_000);
    const r = check(model, [last]);
    expect(r.stats.distinctStates).toBe(100_000);
    expect(r.stats.transitions).toBe(100_000);
    expect(r.stats.depth).toBe(99_999);
    expect(r.examples).toHaveLength(1);
    expect(r.examples[0].path.actions).toHaveLength(99_999);
    expect(r.examples[0].path.actions.every((a) => a === 0)).toBe(true);
    expect(replayPath(model, r.examples[0].path).final).toBe(99_999);
  });
});

describe('binary tree of depth d', () => {
  it.each([0, 1, 2, 3, 10, 15])('d=%i: 2^(d+1)-1 states, 2^(d+1)-2 transitions, levels 2^k', (d) => {
    const r = check(binaryTreeModel(d), []);
    expect(r.stats.distinctStates).toBe(2 ** (d + 1) - 1);
    expect(r.stats.transitions).toBe(2 ** (d + 1) - 2);
    expect(r.stats.depth).toBe(d);
    expect(r.stats.levels).toEqual(Array.from({ length: d + 1 }, (_, k) => 2 ** k));
    expect(r.exhausted).toBe(true);
  });

  it('d=3: the path to leaf index 5 (binary 101) is right, left, right', () => {
    const leaf5: ReachableProperty<TreeNode> = { kind: 'reachable', name: 'leaf5', description: '', holds: (s) => s.level === 3 && s.index === 5 };
    const model = binaryTreeModel(3);
    const r = check(model, [leaf5]);
    expect(r.examples).toEqual([{ property: 'leaf5', path: { init: 0, actions: [1, 0, 1] } }]);
    expect(replayPath(model, r.examples[0].path).steps.map((s) => s.action)).toEqual(['right', 'left', 'right']);
  });
});

describe('diamonds with self-loops', () => {
  // k diamonds: 3k+1 states, 7k+1 transitions (self-loops included), depth 2k, levels 1,2,1,2,...,1
  const levels = (k: number) => Array.from({ length: 2 * k + 1 }, (_, i) => (i % 2 ? 2 : 1));
  for (const selfLoop of ['same', 'copy'] as const)
    for (const decode of [true, false])
      it.each([0, 1, 2, 5, 50])(`k=%i, self-loop returns ${selfLoop === 'same' ? 'the same object' : 'an equal copy'}, decode ${decode}`, (k) => {
        const m = diamondsModel(k, { selfLoop, decode });
        const r = check(decode ? m : withoutDecode(m), []);
        expect(r.stats.distinctStates).toBe(3 * k + 1);
        expect(r.stats.transitions).toBe(7 * k + 1);
        expect(r.stats.depth).toBe(2 * k);
        expect(r.stats.levels).toEqual(levels(k));
        expect(r.exhausted).toBe(true);
      });

  it('k=3: the last junction is reached in 6 steps, going up each time (the first action found)', () => {
    const end: ReachableProperty<DiamondNode> = { kind: 'reachable', name: 'end', description: '', holds: (s) => s.pos === 'junction' && s.i === 3 };
    const model = diamondsModel(3);
    const r = check(model, [end]);
    expect(r.examples[0].path).toEqual({ init: 0, actions: [0, 0, 0, 0, 0, 0] });
    expect(replayPath(model, r.examples[0].path).steps.map((s) => s.action)).toEqual(['up', 'join', 'up', 'join', 'up', 'join']);
  });
});

describe('two initial states, one listed twice', () => {
  for (const decode of [true, false])
    it(`counts the duplicate once (decode ${decode}): 13 states, 12 transitions, depth 9, levels 2,2,2,1x7`, () => {
      const m = twoInitsModel({ decode });
      const r = check(decode ? m : withoutDecode(m), []);
      expect(r.stats.distinctStates).toBe(13);
      expect(r.stats.transitions).toBe(12);
      expect(r.stats.depth).toBe(9);
      expect(r.stats.levels).toEqual([2, 2, 2, 1, 1, 1, 1, 1, 1, 1]);
      expect(r.exhausted).toBe(true);
    });

  it('paths start from the index of the initial state in the list (B is index 2)', () => {
    const at = (x: number): ReachableProperty<XState> => ({ kind: 'reachable', name: `x=${x}`, description: '', holds: (s) => s.x === x });
    const model = twoInitsModel();
    const r = check(model, [at(0), at(10), at(12), at(9)]);
    expect(r.examples).toEqual([
      { property: 'x=0', path: { init: 0, actions: [] } },
      { property: 'x=10', path: { init: 2, actions: [] } },
      { property: 'x=12', path: { init: 2, actions: [0, 0] } },
      { property: 'x=9', path: { init: 0, actions: new Array(9).fill(0) } },
    ]);
    expect(replayPath(model, r.examples[2].path).final).toEqual({ x: 12 });
    expect(r.unreached).toEqual([]);
  });
});
