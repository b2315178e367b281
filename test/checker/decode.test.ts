/**
 * Models with and without `decode` give identical results. With `decode` the frontier holds
 * encodings: every expanded state is decoded exactly once, and `actions`/`step` then see fresh
 * decoded objects, never the objects `step` returned.
 */
import { describe, expect, it } from 'vitest';
import { check, type CheckOptions, type Model, type Property } from '../../checker/index.ts';
import { binaryTreeModel } from '../toys/binaryTree.ts';
import { counterModel } from '../toys/counter.ts';
import { diamondsModel } from '../toys/diamonds.ts';
import { gridModel, type Cell, type GridAction } from '../toys/grid.ts';
import { ownModel, ownProperties } from '../toys/own.ts';
import { twoInitsModel } from '../toys/twoInits.ts';
import { comparable, countingDecode, withoutDecode } from '../toys/util.ts';

function same<S, A, O>(model: Model<S, A, O>, props: readonly Property<S, A, O>[], options: CheckOptions = {}): void {
  expect(model.decode).toBeTypeOf('function');
  const bare = withoutDecode(model);
  expect(bare.decode).toBeUndefined();
  const a = check(model, props, options);
  const b = check(bare, props, options);
  expect(comparable(a)).toEqual(comparable(b));
}

const gridProps: Property<Cell, GridAction, GridAction>[] = [
  { kind: 'state', name: 'sum', description: '', check: (s) => (s.x + s.y >= 3 ? { message: 'sum', key: `${s.x}` } : null) },
  { kind: 'step', name: 'wrap', description: '', check: (_b, a) => (a === 'wrap' ? { message: 'wrap' } : null) },
  { kind: 'reachable', name: 'corner', description: '', holds: (s) => s.x === 5 && s.y === 3 },
  { kind: 'reachable', name: 'never', description: '', holds: () => false },
];

describe('decode or not: identical results', () => {
  it('Own P=4, G=2, correct (625 states)', () => same(ownModel({ pages: 4, guests: 2 }), ownProperties));
  it('Own P=5, G=3, correct, maxDepth 3', () => same(ownModel({ pages: 5, guests: 3 }), ownProperties, { maxDepth: 3 }));
  it('Own P=5, G=3, correct, maxStates 1000', () => same(ownModel({ pages: 5, guests: 3 }), ownProperties, { maxStates: 1000 }));
  it('Own P=3, G=2, buggy, first violation', () => same(ownModel({ pages: 3, guests: 2, variant: 'share-skips-owner-check' }), ownProperties));
  it('Own P=3, G=2, buggy, all violations', () =>
    same(ownModel({ pages: 3, guests: 2, variant: 'share-skips-owner-check' }), ownProperties, { stopAtFirstViolation: false }));
  it('grid 6 x 4 with state, step and reachable properties, all violations', () => same(gridModel(6, 4), gridProps, { stopAtFirstViolation: false }));
  it('grid 6 x 4, first violation', () => same(gridModel(6, 4), gridProps));
  it('diamonds, self-loops returning the same object and a copy', () => {
    same(diamondsModel(4, { selfLoop: 'same' }), []);
    same(diamondsModel(4, { selfLoop: 'copy' }), []);
  });
  it('two initial states, one duplicated', () => same(twoInitsModel(), []));
  it('counter and binary tree', () => {
    same(counterModel(77), []);
    same(binaryTreeModel(6), []);
  });
});

describe('with decode the frontier holds encodings', () => {
  it.each([
    ['Own P=4, G=2', () => ownModel({ pages: 4, guests: 2 }), 625],
    ['diamonds k=4', () => diamondsModel(4, { selfLoop: 'copy' }), 13],
    ['grid 6 x 4', () => gridModel(6, 4), 24],
  ] as const)('%s: decode is called once per expanded state (%i)', (_name, make, states) => {
    const { model, calls } = countingDecode<unknown, unknown, unknown>(make() as Model<unknown, unknown, unknown>);
    const r = check(model, []);
    expect(r.stats.distinctStates).toBe(states);
    expect(calls()).toBe(states);
  });

  it('decode is called for the expanded levels only when maxDepth cuts (Own P=3, G=2, maxDepth 2: 1 + 12)', () => {
    const { model, calls } = countingDecode(ownModel({ pages: 3, guests: 2 }));
    check(model, [], { maxDepth: 2 });
    expect(calls()).toBe(13);
  });

  for (const decode of [true, false])
    it(`actions() sees ${decode ? 'only decoded objects' : 'the very objects step returned'} (decode ${decode})`, () => {
      const base = gridModel(4, 3, { decode });
      const produced = new WeakSet<object>();
      let fromStep = 0;
      let other = 0;
      const model: Model<Cell, GridAction, GridAction> = {
        ...base,
        initialStates: () => {
          const inits = base.initialStates();
          for (const s of inits) produced.add(s);
          return inits;
        },
        actions: (s) => {
          if (produced.has(s)) fromStep++;
          else other++;
          return base.actions(s);
        },
        step: (s, a) => {
          const r = base.step(s, a);
          produced.add(r.state);
          return r;
        },
      };
      const r = check(model, []);
      expect(r.stats.distinctStates).toBe(12);
      expect(fromStep + other).toBe(12);
      expect(decode ? other : fromStep).toBe(12);
    });
});
